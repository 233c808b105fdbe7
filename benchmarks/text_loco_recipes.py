"""Leave-one-corpus-out text emotion: recipe exploration with nested selection (issue 13).

Exploration companion of ``affect bench generalise --modality text``
(:mod:`affectkit.evaluation.generalise_text`, "today's recipe": linear head on frozen
``text.minilm``, class-balanced, epoch / weighting / neutral bias chosen on the training
corpora's validation parts). Each *recipe* (head size, label smoothing, per-corpus feature
standardisation, NRC lexicon features appended, ...) is run

* **outer**: for every held-out corpus H, trained on the other nine (restricted to H's
  classes), epoch and neutral bias chosen on their validation parts, H's test part scored;
* **inner** (for choosing between recipes without H): for every pair {H, c}, trained on the
  other eight (7-way), scored on c's validation + test parts (c is a *training* corpus of
  the outer fold H). The inner score of H is the mean over c != H: it never reads H.

Usage (work files in ``$H13_WORK``, default /tmp/h13)::

    python benchmarks/text_loco_recipes.py dump            # pools + cached MiniLM features
    python benchmarks/text_loco_recipes.py lex             # NRC lexicon features
    python benchmarks/text_loco_recipes.py run NAME JSON [SEEDS]
    python benchmarks/text_loco_recipes.py report NAME...  # -> benchmarks/results/text-loco-recipes.json

Run on 2026-11-27 with seeds = 1 (one head per fold and recipe; the CPU budget).
"""
import os, sys, json, itertools, pickle, time, copy
import numpy as np
WORK = os.environ.get("H13_WORK", "/tmp/h13")

# --- pools ---
import pickle, time, numpy as np, torch, copy
torch.set_num_threads(1)
from affectkit.evaluation import generalise_text as g
from affectkit.taxonomy import CANONICAL_EMOTIONS
P = pickle.load(open(f"{WORK}/pools.pkl","rb")) if os.path.exists(f"{WORK}/pools.pkl") else {}
NAMES = [c for c,_ in g.CORPORA]
NOISY = {c for c,n in g.CORPORA if n}
def classes_for(held):
    yt = P[(held,"test")]["y"]; present=set(yt)
    union = {k for c in NAMES if c!=held for k in P[(c,"train")]["y"]}
    return tuple(k for k in CANONICAL_EMOTIONS if k in present and k in union)
def stack(cors, part, classes, feat=lambda c,p: P[(c,p)]["X"]):
    Xs,ys,cs=[],[],[]
    for c in cors:
        y=P[(c,part)]["y"]; m=np.isin(y,classes)
        Xs.append(feat(c,part)[m]); ys.append(y[m]); cs.append(np.full(m.sum(),c))
    return np.concatenate(Xs).astype(np.float32), np.concatenate(ys), np.concatenate(cs)

# --- fitting ---
C7 = tuple(CANONICAL_EMOTIONS)
IDX = {k:i for i,k in enumerate(C7)}
def weights(cor, y, weighting, drop=()):
    w = np.ones(len(y))
    for c in np.unique(cor):
        m = cor==c
        if weighting!="size": w[m]=1.0/m.sum()
        if weighting=="equal-noisy-half" and c in NOISY: w[m]*=0.5
        if weighting=="sqrt": w[m]=1.0/np.sqrt(m.sum())
    for k in np.unique(y):
        m=y==k; w[m]/=w[m].sum()
    return w/w.mean()
def zs(X, mu, sd): return (X-mu)/sd
def fit(train_cors, eval_sets, *, seed=0, hidden=0, weighting="equal", ls=0.0, epochs=12,
        std="none", lexf=0.0, lr=None, wd=1e-3, classes=C7, feat=None):
    """train 7-way on train_cors' train parts; returns per-epoch logits for
    'valid' (stacked valid parts of train_cors) and each eval set (name->X)."""
    if std=="lex" or lexf:
        import pickle as _p
        L=_p.load(open(f"{WORK}/lex.pkl","rb"))
        feat=lambda c,p: np.concatenate([P[(c,p)]["X"],lexf*L[(c,p)]],1)
    feat = feat or (lambda c,p: P[(c,p)]["X"])
    def F(c,p):
        X = feat(c,p)
        if std=="corpus":
            X0 = feat(c,"train") if c in train_cors else X
            mu=X0.mean(0); sd=X0.std(0)+1e-6
            return zs(X,mu,sd)
        if std=="center":
            X0 = feat(c,"train") if c in train_cors else X
            return X-X0.mean(0)
        return X
    X,y,cor = stack(train_cors,"train",classes,F)
    Xv,yv,cv = stack(train_cors,"valid",classes,F)
    torch.manual_seed(seed); rng=np.random.default_rng(seed)
    yi=np.array([classes.index(k) for k in y])
    w=weights(cor,y,weighting)
    D=X.shape[1]
    if hidden:
        model=torch.nn.Sequential(torch.nn.Dropout(0.1),torch.nn.Linear(D,hidden),torch.nn.ReLU(),torch.nn.Dropout(0.2),torch.nn.Linear(hidden,len(classes)))
    else:
        model=torch.nn.Sequential(torch.nn.Linear(D,len(classes)))
    opt=torch.optim.AdamW(model.parameters(),lr=lr or (1e-3 if hidden else 1e-2),weight_decay=wd)
    Xt,yt,wt=torch.from_numpy(X),torch.from_numpy(yi),torch.from_numpy(w.astype(np.float32))
    evals={k:torch.from_numpy(np.asarray(F(*v) if isinstance(v,tuple) else v,np.float32)) for k,v in eval_sets.items()}
    evals["valid"]=torch.from_numpy(Xv)
    hist=[]
    for ep in range(epochs):
        model.train()
        order=torch.from_numpy(rng.permutation(len(yi)))
        for b in range(0,len(order),256):
            i=order[b:b+256]
            loss=(torch.nn.functional.cross_entropy(model(Xt[i]),yt[i],reduction="none",label_smoothing=ls)*wt[i]).mean()
            opt.zero_grad(); loss.backward(); opt.step()
        model.eval()
        with torch.inference_mode():
            hist.append({k:model(v).numpy() for k,v in evals.items()})
    return hist, (yv,cv)
BIASES=(-2.0,-1.5,-1.0,-0.5,0.0,0.5,1.0)
def restrict(z, K):
    return z[:, [C7.index(k) for k in K]]
def biased(z,K,b):
    z=z.copy()
    if "neutral" in K: z[:,K.index("neutral")]+=b
    return z
def pred(z,K): return np.asarray(K)[z.argmax(1)]
def select_indomain(hist, yvcv, K):
    """epoch & neutral bias by mean per-corpus UA on the training corpora's valid parts (restricted to K)"""
    yv,cv=yvcv; m=np.isin(yv,K)
    best=(-1,None,None)
    for ep,h in enumerate(hist):
        zv=restrict(h["valid"],K)[m]
        for b in (BIASES if "neutral" in K else (0.0,)):
            s=g.valid_score(biased(zv,K,b),yv[m],cv[m],K)
            if s>best[0]: best=(s,ep,b)
    return best

# --- analysis ---
def evaly(c):
    if c=="semeval2018-ec": return P[(c,"valid")]["y"]
    return np.concatenate([P[(c,"valid")]["y"],P[(c,"test")]["y"]])
def load(n): return pickle.load(open(f"{WORK}/res/{n}.pkl","rb"))
def pairlogits(R,H,c,ep):
    key=(H,c) if (H,c) in R["pairs"] else (c,H)
    h=R["pairs"][key]["hist"][ep]
    if c=="semeval2018-ec": return h[c+"@v"]
    return np.concatenate([h[c+"@v"],h[c+"@t"]])
def inner(R,H,bias="indomain"):
    """mean over c!=H of UA on c (valid+test) of the head trained on NAMES-{H,c}"""
    s=[]
    for c in NAMES:
        if c==H: continue
        key=(H,c) if (H,c) in R["pairs"] else (c,H)
        pr=R["pairs"][key]; Kc=classes_for(c)
        sc,ep,b=select_indomain(pr["hist"],pr["yvcv"],Kc)
        if bias!="indomain": b=bias
        z=biased(restrict(pairlogits(R,H,c,ep),Kc),Kc,b)
        y=evaly(c); m=np.isin(y,Kc)
        s.append(g.ua(y[m],pred(z[m],Kc),Kc))
    return float(np.mean(s))
def outer(R,H,s,bias="indomain"):
    o=R["outer"][(H,s)]; K=o["K"]
    # outer trained on K already: logits have |K| columns
    yv,cv=o["yvcv"]; best=(-1,0,0)
    for ep,zv in enumerate(o["valid"]):
        for b in (BIASES if "neutral" in K else (0.0,)):
            sc=g.valid_score(biased(zv,K,b),yv,cv,K)
            if sc>best[0]: best=(sc,ep,b)
    _,ep,b=best
    if bias!="indomain": b=bias
    yt=P[(H,"test")]["y"]; m=np.isin(yt,K)
    return g.ua(yt[m],pred(biased(o["test"][ep],K,b),K),K)


# --- NRC lexicon features ---
import numpy as np, pickle, re
LEX=g.nrc_lexicon()
AFF=("anger","anticipation","disgust","fear","joy","negative","positive","sadness","surprise","trust")
W=re.compile(r"[a-z]+(?:'[a-z]+)?")
def lexfeat(texts):
    out=np.zeros((len(texts),len(AFF)),np.float32)
    for i,t in enumerate(texts):
        for w in W.findall((t or "").lower()):
            for a in LEX.get(w,()):
                if a in AFF: out[i,AFF.index(a)]+=1
    return np.log1p(out)


# --- run ---
def run_recipe(name, rc, seeds=1, pairs=True):
    def evalX(c):
        if c=="semeval2018-ec": return (c,"valid")
        return np.concatenate([P[(c,"valid")]["X"],P[(c,"test")]["X"]])
    def evaly(c):
        if c=="semeval2018-ec": return P[(c,"valid")]["y"]
        return np.concatenate([P[(c,"valid")]["y"],P[(c,"test")]["y"]])
    out={"recipe":rc,"outer":{},"pairs":{}}
    t=time.time()
    for held in NAMES:
        K=classes_for(held); others=[c for c in NAMES if c!=held]
        for s in range(seeds):
            hist,yvcv=fit(others,{"test":(held,"test")},seed=s,classes=K,**rc)
            out["outer"][(held,s)]=dict(test=[h["test"] for h in hist],valid=[h["valid"] for h in hist],yvcv=yvcv,K=K)
        print(name,"outer",held,round(time.time()-t),flush=True)
    for a,b in (itertools.combinations(NAMES,2) if pairs else ()):
        tr=[c for c in NAMES if c not in (a,b)]
        ev={a:(a,"valid"),b:(b,"valid")} if False else {}
        # std handling: held-out eval features standardised by their own stats (same as test)
        ev={a+"@v":(a,"valid"),b+"@v":(b,"valid")}
        if a!="semeval2018-ec": ev[a+"@t"]=(a,"test")
        if b!="semeval2018-ec": ev[b+"@t"]=(b,"test")
        hist,yvcv=fit(tr,ev,seed=0,**rc)
        out["pairs"][(a,b)]=dict(hist=hist,yvcv=yvcv)
        print(name,"pair",a,b,round(time.time()-t),flush=True)
    os.makedirs(f"{WORK}/res",exist_ok=True); pickle.dump(out,open(f"{WORK}/res/{name}.pkl","wb"))
    print("done",time.time()-t)

# --- dump ---
def dump():
    import time, numpy as np, pickle, torch
    torch.set_num_threads(1)
    from affectkit.evaluation import generalise_text as g
    t=time.time()
    pools = g.load_pools(g.CAPS)
    print("pools", time.time()-t, flush=True)
    out={}
    for c in pools:
        for p in ("train","valid","test"):
            items=pools[c][p]
            X=g.features(items,"text.minilm",progress=False)
            out[(c,p)]=dict(X=X,y=np.asarray([u.emotion for u in items]),ids=[u.id for u in items],texts=[u.text for u in items],spk=[u.speaker for u in items])
            print(c,p,X.shape,time.time()-t,flush=True)
    pickle.dump(out,open(f"{WORK}/pools.pkl","wb"))
    # in-domain full MELD / IEMOCAP
    from affectkit.data import load_corpus
    from affectkit.taxonomy import CANONICAL_EMOTIONS
    ind={}
    for corpus in ("meld","iemocap"):
        utts=[u for u in load_corpus(corpus).utterances if u.emotion in CANONICAL_EMOTIONS]
        for p in ("train","valid","test"):
            items=[u for u in utts if u.split==p]
            ind[(corpus,p)]=dict(X=g.features(items,"text.minilm",progress=False),y=np.asarray([u.emotion for u in items]),ids=[u.id for u in items],texts=[u.text for u in items])
            print(corpus,p,len(items),time.time()-t,flush=True)
    pickle.dump(ind,open(f"{WORK}/indomain.pkl","wb"))


def report(names):
    import datetime as dt
    out = {"command": "python benchmarks/text_loco_recipes.py report " + " ".join(names),
           "date": dt.date.today().isoformat(), "protocol": __doc__, "recipes": {}}
    for n in names:
        R = load(n)
        seeds = sorted({s for (_, s) in R["outer"]})
        ins = {H: inner(R, H) for H in NAMES}
        outs = {H: float(np.mean([outer(R, H, s) for s in seeds])) for H in NAMES}
        out["recipes"][n] = {"recipe": R["recipe"], "seeds": len(seeds),
                             "inner_mean": float(np.mean(list(ins.values()))),
                             "outer_mean_UA": float(np.mean(list(outs.values()))),
                             "inner": ins, "outer_UA": outs}
        print(f"{n:10s} inner {np.mean(list(ins.values())):.4f} outer {np.mean(list(outs.values())):.4f}")
    # nested choice: per held-out corpus, the recipe with the best inner score
    chosen = {H: max(names, key=lambda n: out["recipes"][n]["inner"][H]) for H in NAMES}
    out["nested_choice"] = {"chosen": chosen, "outer_mean_UA": float(np.mean(
        [out["recipes"][chosen[H]]["outer_UA"][H] for H in NAMES]))}
    print("nested choice", out["nested_choice"])
    os.makedirs("benchmarks/results", exist_ok=True)
    with open("benchmarks/results/text-loco-recipes.json", "w") as f:
        json.dump(out, f, indent=1, default=float)


def outer_pred(R, H, s):
    """Test predictions of the outer head of (H, seed s): epoch and bias chosen on validation."""
    o = R["outer"][(H, s)]; K = o["K"]; yv, cv = o["yvcv"]; best = (-1, 0, 0)
    for ep, zv in enumerate(o["valid"]):
        for b in (BIASES if "neutral" in K else (0.0,)):
            sc = g.valid_score(biased(zv, K, b), yv, cv, K)
            if sc > best[0]:
                best = (sc, ep, b)
    yt = P[(H, "test")]["y"]; m = np.isin(yt, K)
    return yt[m], pred(biased(o["test"][best[1]], K, best[2]), K), K


def paired(a, b, out_name):
    """Per held-out corpus: UA mean ± sd over seeds of recipes a and b, the paired difference
    (a - b, per seed), macro-F1 and the top predicted-class share (with its gold share)."""
    import datetime as dt
    Ra, Rb = load(a), load(b)
    seeds = sorted({s for (_, s) in Ra["outer"]})
    rows, diffs_all = [], []
    for H in NAMES:
        r = {"held_out": H}
        for n, R in ((a, Ra), (b, Rb)):
            ua_s, f1_s, shares = [], [], []
            for s in seeds:
                y, pr, K = outer_pred(R, H, s)
                ua_s.append(g.ua(y, pr, K)); f1_s.append(g.macro_f1(y, pr, K))
                shares.append({k: float(np.mean(pr == k)) for k in K})
            sh = {k: float(np.mean([x[k] for x in shares])) for k in K}
            top = max(sh, key=sh.get); gold = float(np.mean(y == top))
            r[n] = {"UA": ua_s, "macro_f1": f1_s, "top_share": [top, sh[top], gold],
                    "share_ok": bool(sh[top] <= 0.5 or gold > 0.5)}
        r["classes"] = list(K); r["n_test"] = int(len(y))
        d = np.asarray(r[a]["UA"]) - np.asarray(r[b]["UA"])
        r["diff_UA"] = d.tolist(); diffs_all.append(d)
        rows.append(r)
    D = np.asarray(diffs_all)  # corpora x seeds
    mean_a = np.asarray([np.mean(r[a]["UA"]) for r in rows]); mean_b = np.asarray([np.mean(r[b]["UA"]) for r in rows])
    per_seed_a = np.asarray([r[a]["UA"] for r in rows]).mean(0); per_seed_b = np.asarray([r[b]["UA"] for r in rows]).mean(0)
    summary = {a: {"mean_UA": float(mean_a.mean()), "sd_over_seeds_of_mean": float(np.std(per_seed_a, ddof=1)) if len(seeds) > 1 else 0.0,
                   "corpora_share_over_50": [r["held_out"] for r in rows if not r[a]["share_ok"]]},
               b: {"mean_UA": float(mean_b.mean()), "sd_over_seeds_of_mean": float(np.std(per_seed_b, ddof=1)) if len(seeds) > 1 else 0.0,
                   "corpora_share_over_50": [r["held_out"] for r in rows if not r[b]["share_ok"]]},
               "paired_mean_diff": float(D.mean(0).mean()), "paired_sd_over_seeds": float(np.std(D.mean(0), ddof=1)) if len(seeds) > 1 else 0.0,
               "corpora_better": int(np.sum(D.mean(1) > 0)), "corpora_worse": int(np.sum(D.mean(1) < 0))}
    md = [f"| held-out corpus | classes | n test | {a} UA | {b} UA | paired diff | {a} macro-F1 | {a} top share (gold) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r[a]["top_share"]
        md.append(f"| {g.SHORT.get(r['held_out'], r['held_out'])} | {len(r['classes'])} | {r['n_test']} | "
                  f"{np.mean(r[a]['UA']):.3f} ± {np.std(r[a]['UA'], ddof=1):.3f} | {np.mean(r[b]['UA']):.3f} ± {np.std(r[b]['UA'], ddof=1):.3f} | "
                  f"{np.mean(r['diff_UA']):+.3f} ± {np.std(r['diff_UA'], ddof=1):.3f} | {np.mean(r[a]['macro_f1']):.3f} | {t[0]} {t[1]:.2f} ({t[2]:.2f}) |")
    md.append(f"| **mean** | | | **{summary[a]['mean_UA']:.3f} ± {summary[a]['sd_over_seeds_of_mean']:.3f}** | {summary[b]['mean_UA']:.3f} ± {summary[b]['sd_over_seeds_of_mean']:.3f} | "
              f"{summary['paired_mean_diff']:+.3f} ± {summary['paired_sd_over_seeds']:.3f} | | {len(summary[a]['corpora_share_over_50'])} over 50 % |")
    doc = {"command": f"python benchmarks/text_loco_recipes.py paired {a} {b} {out_name}",
           "date": dt.date.today().isoformat(), "seeds": seeds, "recipes": {a: Ra["recipe"], b: Rb["recipe"]},
           "rows": rows, "summary": summary, "markdown": "\n".join(md)}
    os.makedirs("benchmarks/results", exist_ok=True)
    with open(f"benchmarks/results/{out_name}.json", "w") as f:
        json.dump(doc, f, indent=1, default=float)
    print(doc["markdown"]); print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "dump":
        dump()
    elif cmd == "lex":
        pickle.dump({k: lexfeat(v["texts"]) for k, v in P.items()}, open(f"{WORK}/lex.pkl", "wb"))
    elif cmd == "run":
        # run NAME JSON [SEEDS] [--outer-only]: --outer-only skips the inner pair fits
        args = [a for a in sys.argv[2:] if a != "--outer-only"]
        run_recipe(args[0], json.loads(args[1]), int(args[2]) if len(args) > 2 else 1,
                   pairs="--outer-only" not in sys.argv)
    elif cmd == "paired":
        paired(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "report":
        report(sys.argv[2:])
    else:
        raise SystemExit(__doc__)
