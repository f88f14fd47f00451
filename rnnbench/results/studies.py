"""Study results (``rnnbench study``): told from other result files by their first key, read and checked, and
summarized from their JSON alone (the command prints it, the report shows it).

A truncation study (``rnnbench.studies.truncation``) records every run's final loss; ``truncation_summary`` gives,
per style, the smallest backpropagation length n whose median final loss over the seeds lies below each midpoint
of the binary task's theory levels. A gradient study (``rnnbench.studies.gradients``) records the curves of
mean ||dL_t/dh_(t-k)|| against k; ``gradients_summary`` gives each curve's rate per step.
"""

from __future__ import annotations

import statistics

from rnnbench.errors import UserError
from rnnbench.files import names_key_first, read_json_file

STUDY_KEY = "study"
SCHEMAS = {"truncation": 1, "gradients": 1}  # each study's result schema
MEASURED = {"truncation": "runs", "gradients": "curves"}  # what a study must hold


def is_study_file(path) -> bool:
    """Whether ``path`` looks like a study's JSON (its first bytes name STUDY_KEY); unreadable: no."""
    return names_key_first(path, STUDY_KEY)


def read_study(path) -> dict:
    """A study's JSON, checked; errors name the file."""
    doc = read_json_file(path, "rnnbench study JSON")
    study = doc.get(STUDY_KEY) if isinstance(doc, dict) else None
    if study not in SCHEMAS or doc.get("schema_version") != SCHEMAS[study]:
        raise UserError(f"{path}: not an rnnbench study result (expected {STUDY_KEY} one of {', '.join(SCHEMAS)} "
                        f"with its schema_version)")
    if not doc.get(MEASURED[study]):
        raise UserError(f"{path}: the study holds no {MEASURED[study]}")
    return doc


def summary(doc: dict) -> dict:
    """The study's table (a list of rows) and its finding in words."""
    return {"truncation": truncation_summary, "gradients": gradients_summary}[doc[STUDY_KEY]](doc)


# --- truncation -----------------------------------------------------------------------------------------------


def truncation_summary(doc: dict) -> dict:
    """Per style: the median final loss over the seeds at each n, how many seeds learned each dependency there,
    the smallest n from which the median learned it at every n swept (None: not at the largest), and the finding
    in words. "From which on" because learning is not monotone in n near the edge: a small n can learn by luck of
    its seeds where the next one does not."""
    limits = doc["thresholds"]
    table = []
    smallest: dict[str, dict[str, int | None]] = {}
    for style in doc["styles"]:
        runs = [r for r in doc["runs"] if r["style"] == style]
        smallest[style] = {dep: None for dep in limits}
        for n in sorted({r["n"] for r in runs}):
            losses = [r["final_loss"] for r in runs if r["n"] == n]
            median = statistics.median(losses)
            first = next(r for r in runs if r["n"] == n)
            row = {"style": style, "n": n, "k2,k1": f"{first['k2']},{first['k1']}",
                   "median final loss": round(median, 4), "seeds": len(losses)}
            for dep, limit in limits.items():
                row[f"seeds learning {dep}"] = sum(v < limit for v in losses)
                if median >= limit:
                    smallest[style][dep] = None  # not here: only a larger n can be where it is learned for good
                elif smallest[style][dep] is None:
                    smallest[style][dep] = n
            table.append(row)
    return {"table": table, "smallest": smallest, "finding": truncation_finding(smallest, doc)}


def _n(value: int | None, largest: int) -> str:
    return f"n >= {value}" if value is not None else f"no n up to {largest} (not reached)"


def truncation_finding(smallest: dict, doc: dict) -> str:
    """The plain-language result: the smallest n per style and dependency, and whether true n ~ TF-style 2n."""
    largest = max(r["n"] for r in doc["runs"])
    parts = []
    for style in doc["styles"]:
        s = smallest[style]
        parts.append(f"{doc['style_labels'][style]} learned t-3 from {_n(s['t-3'], largest)} and t-8 from "
                     f"{_n(s['t-8'], largest)}")
    text = "; ".join(parts) + "."
    tf, true = smallest.get("tf"), smallest.get("true")
    if tf and true:
        verdicts = []
        for dep in ("t-3", "t-8"):
            if tf[dep] is None or true[dep] is None:
                continue
            ratio = tf[dep] / true[dep]
            verdicts.append(f"{dep}: TF style needed {tf[dep]}, true truncation {true[dep]} ({ratio:.2g}x)")
        if verdicts:
            holds = all(1.5 <= tf[d] / true[d] <= 2.5 for d in ("t-3", "t-8") if tf[d] and true[d])
            text += (" The tutorial's \"true n ~ TF-style 2n\" " + ("holds here" if holds else "does not hold here")
                     + " (" + "; ".join(verdicts) + "; the sweep's grid: n = "
                     + ", ".join(str(n) for n in sorted({r['n'] for r in doc['runs']})) + ").")
    return text


# --- gradients ------------------------------------------------------------------------------------------------


def decay_per_step(norms: list[float], k_from: int = 5) -> float:
    """The curve's geometric rate per step past k_from (the k-th root of norm(k) / norm(k_from)): below 1 it vanishes,
    above 1 it explodes."""
    a, b = norms[k_from], norms[-1]
    if a <= 0 or b <= 0:
        return 0.0
    return float((b / a) ** (1.0 / (len(norms) - 1 - k_from)))


def gradients_summary(doc: dict) -> dict:
    """A row per curve (its norm at k = 0, 10 and the last k, and its rate per step), the clipping rows, and the
    finding in words."""
    rows = []
    for c in doc["curves"]:
        n = c["norms"]
        rows.append({"cell": c["cell"], "condition": c["condition"], "k=0": float(f"{n[0]:.3g}"),
                     "k=10": float(f"{n[10]:.3g}"), f"k={len(n) - 1}": float(f"{n[-1]:.3g}"),
                     "per step": round(decay_per_step(n), 3)})
    return {"table": rows, "finding": gradients_finding(rows, doc)}


def gradients_finding(rows: list[dict], doc: dict) -> str:
    last = f"k={doc['max_k']}"
    by = {(r["cell"], r["condition"]): r for r in rows}
    parts = []
    init = [by[c, "init"] for c in doc["cells"] if (c, "init") in by]
    if init:
        parts.append("At initialisation the gradient reaching " + str(doc["max_k"]) + " steps back was "
                     + ", ".join(f"{r['cell']} {r[last]:.2g}" for r in init)
                     + " (per step " + ", ".join(f"{r['per step']:.2f}" for r in init) + ")")
    radii = sorted({r["condition"] for r in rows if r["condition"].startswith("radius")})
    for cond in radii:
        cells = [by[c, cond] for c in doc["cells"] if (c, cond) in by]
        parts.append(f"with the recurrent weights at spectral {cond}: "
                     + ", ".join(f"{r['cell']} {r['per step']:.2f}/step" for r in cells))
    text = "; ".join(parts) + "."
    clip = doc.get("clipping") or []
    for cell in doc["cells"]:
        pair = [c for c in clip if c["cell"] == cell]
        plain = next((c for c in pair if c["clip_norm"] is None), None)
        clipped = next((c for c in pair if c["clip_norm"] is not None), None)
        if plain and clipped:
            text += (f" {cell} from radius {plain['radius']:g}, {plain['steps']} steps: gradient norm median "
                     f"{plain['median_grad_norm']:.3g}, largest {plain['max_grad_norm']:.3g}, loss "
                     f"{plain['final_loss']:.4f}; clipped at {clipped['clip_norm']:g} ({clipped['clipped_steps']} "
                     f"steps clipped): loss {clipped['final_loss']:.4f}.")
    return text
