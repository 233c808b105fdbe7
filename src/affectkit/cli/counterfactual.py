"""`affect evaluate-counterfactual`: MCIS / CLEF inference-time debiasing over trained runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from affectkit.cli._util import console, print_json


def _floats(s: str, opt: str) -> tuple[float, ...]:
    from affectkit.errors import ConfigError

    try:
        return tuple(float(x) for x in s.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{opt} {s!r}: expected comma-separated numbers, e.g. 0,0.25,0.5") \
            from None


def evaluate_counterfactual(
    run_dir: Path = typer.Argument(..., help="A run folder of `affect train` (or a folder "
                                   "holding several: seeds × folds of one config). CLEF needs "
                                   "a dialogue-context run (features.text: "
                                   "text.minilm_context)."),
    method: str = typer.Option("mcis", "--method", "-m", help="mcis | clef"),
    alphas: str = typer.Option("0,0.25,0.5,0.75,1", "--alphas",
                               help="MCIS label-bias weights (grid chosen on validation)."),
    betas: str = typer.Option("0,0.1,0.25,0.5,0.75,1", "--betas",
                              help="MCIS word-context weights (grid chosen on validation)."),
    prior: str = typer.Option("model", "--prior", help="MCIS label prior: model | labels."),
    eec: bool = typer.Option(True, "--eec/--no-eec", help="MCIS: EEC name-swap gaps."),
    lams: str = typer.Option("0,0.1,0.2,0.3,0.5,0.75,1", "--lams",
                             help="CLEF context-effect weights (grid chosen on validation)."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Write <out>.json and <out>.md (default: print only)."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Counterfactual debiasing at inference: factual prediction minus the bias effect.

    MCIS (Yang et al. 2024) subtracts the model's output on a null input (label prior) and on
    the text with its content words masked (word-context bias); CLEF (Yang et al. 2024)
    subtracts a separately fitted context-only branch (dialogue context, e.g. MELD). Paired
    differences against the same model without the plug-in.
    """
    from affectkit.errors import ConfigError
    from affectkit.evaluation import counterfactual as C

    from affectkit.cli.robustness import _run_dirs

    if method == "mcis":
        cfg = C.MCISConfig(alphas=_floats(alphas, "--alphas"), betas=_floats(betas, "--betas"),
                           prior_source=prior)
        res = C.mcis_report(_run_dirs(run_dir), cfg, eec=eec)
    elif method == "clef":
        res = C.clef_report(_run_dirs(run_dir), C.CLEFConfig(lams=_floats(lams, "--lams")))
    else:
        raise ConfigError(f"--method {method!r}; allowed: {', '.join(C.METHODS)}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
        out.with_suffix(".md").write_text(res["markdown"] + "\n")
        console.print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    if json_:
        print_json(res)
    else:
        console.print(res["markdown"], highlight=False)


def register(app: typer.Typer) -> None:
    app.command("evaluate-counterfactual")(evaluate_counterfactual)
