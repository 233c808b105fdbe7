"""Conversation-adapter variants explored for issue 13 (in-domain MELD), on top of the shipped
general head: class weighting (class-balanced / corpus shares / sqrt), hidden size, epochs.
Epoch and neutral bias chosen on MELD dev + IEMOCAP valid (mean weighted F1, printed as
``valid``); test scores printed beside them. The shipped recipe is
``evaluation/text_emotion.py: fit_conversation_adapter`` (corpus shares, 256 hidden, 40
epochs: the best ``valid``). Needs ``text_loco_recipes.py dump`` first (``$H13_WORK``).

    python benchmarks/text_conversation_variants.py '{"hidden":256,"cb":"corpus","epochs":40}' ...
"""
import sys, os, json
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_loco_recipes import *
from sklearn.metrics import f1_score
from affectkit.analysis.text_emotion import LoadedHead, WEIGHTS
I=pickle.load(open(f"{WORK}/indomain.pkl","rb"))
if ("reccon","test") not in I:
    from affectkit.data import load_corpus
    u=[x for x in load_corpus("reccon").utterances if x.split=="test" and x.emotion in C7]
    I[("reccon","test")]=dict(X=g.features(u,"text.minilm",progress=False),y=np.asarray([x.emotion for x in u]))
    pickle.dump(I,open(f"{WORK}/indomain.pkl","wb"))
head=LoadedHead.load(WEIGHTS/"en_minilm")
def glog(X):
    with torch.inference_mode(): z=head.model(torch.from_numpy(X)).numpy()
    return biased(z,C7,head.neutral_bias)
KS={"meld":C7,"iemocap":("neutral","happy","sad","angry"),"reccon":C7}
def wf1(y,p,K): return 100*f1_score(y,p,labels=list(K),average="weighted",zero_division=0)
def run(hidden=0, cb="class", epochs=20, seed=0, lr=None, wd=1e-3, corp=("meld","iemocap")):
    Xs,ys,cs=[],[],[]
    for c in corp:
        Xs.append(I[(c,"train")]["X"]); ys.append(I[(c,"train")]["y"]); cs.append(np.full(len(ys[-1]),c))
    X=np.concatenate(Xs).astype(np.float32); y=np.concatenate(ys); cor=np.concatenate(cs)
    Z=glog(X); yi=np.array([C7.index(k) for k in y])
    w=weights(cor,y,"equal") if cb=="class" else np.ones(len(y))
    if cb=="sqrt":
        w=np.ones(len(y))
        for c in corp:
            for k in np.unique(y[cor==c]):
                m=(cor==c)&(y==k); w[m]=1/np.sqrt(m.sum())
            w[cor==c]/=w[cor==c].sum()
        w/=w.mean()
    if cb=="corpus":
        for c in corp: w[cor==c]=1/np.sum(cor==c)
        w/=w.mean()
    torch.manual_seed(seed); rng=np.random.default_rng(seed)
    model=torch.nn.Sequential(torch.nn.Dropout(0.1),torch.nn.Linear(384,hidden),torch.nn.ReLU(),torch.nn.Dropout(0.2),torch.nn.Linear(hidden,7)) if hidden else torch.nn.Sequential(torch.nn.Linear(384,7))
    torch.nn.init.zeros_(model[-1].weight); torch.nn.init.zeros_(model[-1].bias)
    opt=torch.optim.AdamW(model.parameters(),lr=lr or (1e-3 if hidden else 3e-3),weight_decay=wd)
    Xt,Zt,yt,wt=map(torch.from_numpy,(X,Z.astype(np.float32),yi,w.astype(np.float32)))
    E={(c,p):(torch.from_numpy(I[(c,p)]["X"]),glog(I[(c,p)]["X"])) for c in ("meld","iemocap") for p in ("valid","test")}
    E[("reccon","test")]=(torch.from_numpy(I[("reccon","test")]["X"]),glog(I[("reccon","test")]["X"]))
    hist=[]
    for ep in range(epochs):
        model.train(); order=torch.from_numpy(rng.permutation(len(yi)))
        for b in range(0,len(order),256):
            i=order[b:b+256]
            loss=(torch.nn.functional.cross_entropy(Zt[i]+model(Xt[i]),yt[i],reduction="none")*wt[i]).mean()
            opt.zero_grad(); loss.backward(); opt.step()
        model.eval()
        with torch.inference_mode(): hist.append({k:zg+model(x).numpy() for k,(x,zg) in E.items()})
    grid=np.round(np.arange(-2,3.01,0.25),2)
    def vs(ep,b): return np.mean([wf1(I[(c,"valid")]["y"],pred(biased(hist[ep][(c,"valid")],C7,b),C7),KS[c]) for c in ("meld","iemocap")])
    ep,b=max(((e,b) for e in range(epochs) for b in grid),key=lambda t:vs(*t))
    res={"ep":ep,"b":float(b),"valid":round(vs(ep,b),1)}
    for c in ("meld","iemocap","reccon"):
        res[c]=round(wf1(I[(c,"test")]["y"],pred(biased(hist[ep][(c,"test")],C7,b),C7),KS[c]),1)
    import csv
    t=[r["text"] for r in csv.DictReader(open("examples/demo/chat.csv"))]
    from affectkit.analysis.text_emotion import embed
    Xd=embed("text.minilm",t)
    with torch.inference_mode(): zd=glog(Xd)+model(torch.from_numpy(Xd)).numpy()
    res["chat"]=list(pred(biased(zd,C7,b),C7))
    for c in ("meld",):
        yte=I[(c,"test")]["y"]; pr=pred(biased(hist[ep][(c,"test")],C7,b),C7)
        res["meld_ua"]=round(100*g.ua(yte,pr,C7),1)
    return res
def general():
    res={}
    for c in ("meld","iemocap","reccon"):
        res[c]=round(wf1(I[(c,"test")]["y"],pred(glog(I[(c,"test")]["X"]),C7),KS[c]),1)
    return res
if __name__=="__main__":
    print("general",general(),flush=True)
    for a in sys.argv[1:]:
        kw=json.loads(a); t=time.time(); print(kw,run(**kw),round(time.time()-t),flush=True)
