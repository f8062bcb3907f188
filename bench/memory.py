#!/usr/bin/env python3
"""Memory benchmark of etvk's load (`make bench-memory`).

Usage (from the repo root; needs build/etvk_run, torch + torchvision in .venv):
    .venv/bin/python bench/memory.py [--full] [--models ...] [--configs ...] [--iters N]
        [--loader file] [--baseline-repeats N] [--update-doc docs/memory.md]

Quick by default (under a minute on lavapipe once exported): mobilenet_v2 and the
transformer, the lazy and legacy configurations, --iters 1, one baseline run each. --full (about half an hour on
lavapipe): the three models, every configuration, --iters 3, 3 baseline runs; --update-doc
needs it. Every run prints a progress line ([k/n], elapsed time) as it finishes, and every
model its table row as soon as its runs are done; Ctrl-C (or SIGTERM) stops after printing the
tables of the models that finished. All sizes are MB: 10^6 bytes.

1. Exports the models on demand into bench/out/ (git-ignored; see bench/models.py).
2. Runs `build/etvk_run MODEL.pte --json --iters N --loader L` once per configuration, each
   in a fresh process:
       lazy          the default (lazy order, planner auto, direct upload on unified memory)
       lazy_arena    ETVK_PLANNER=arena
       lazy_shared   ETVK_PLANNER=shared
       legacy        ETVK_LOAD_ORDER=legacy
       lazy_staging  ETVK_DIRECT_UPLOAD=0 (the staging-ring path)
       lazy_mmap / legacy_mmap   the same with the other loader (to see what mmap changes)
   plus one correctness run (lazy, --inputs/--expected against PyTorch eager, --iters 0).
   baseline_rss is the median peak RSS of bench/out/baseline.pte (relu of a 1-element tensor:
   one tiny delegate, same export, same runner, same env and loader), run --baseline-repeats
   times per configuration.
3. Prints the table (markdown) and the targets:
       lazy accounted peak      <= W + A + ring
       lazy peak RSS - baseline <= 1.05 (W + A) + ring
       legacy accounted peak    ~= 2W + A (ratio printed)
   and writes bench/out/memory.json and bench/out/memory.md; --update-doc replaces the block
   between the `bench-memory` markers of that file with the same tables.

Environment: ETVK_* and VK_INSTANCE_LAYERS of the caller are removed from the children (every
configuration sets what it needs), so a validation layer or a leftover override can not skew
the figures.
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

FULL_MODELS = ["mobilenet_v2", "resnet18", "transformer"]
QUICK_MODELS = ["mobilenet_v2", "transformer"]
QUICK_CONFIGS = ["lazy", "legacy"]
MB = 1e6  # the one unit of every figure printed here and in docs/memory.md

# name -> (env overrides, use the other loader)
CONFIGS = {
    "lazy": ({"ETVK_LOAD_ORDER": "lazy"}, False),
    "lazy_arena": ({"ETVK_LOAD_ORDER": "lazy", "ETVK_PLANNER": "arena"}, False),
    "lazy_shared": ({"ETVK_LOAD_ORDER": "lazy", "ETVK_PLANNER": "shared"}, False),
    "legacy": ({"ETVK_LOAD_ORDER": "legacy"}, False),
    "lazy_staging": ({"ETVK_LOAD_ORDER": "lazy", "ETVK_DIRECT_UPLOAD": "0"}, False),
    "lazy_mmap": ({"ETVK_LOAD_ORDER": "lazy"}, True),
    "legacy_mmap": ({"ETVK_LOAD_ORDER": "legacy"}, True),
}


def child_env(overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETVK_") and k != "VK_INSTANCE_LAYERS"}
    env.update(overrides)
    return env


def run_runner(runner, pte, loader, iters, env, extra=()):
    cmd = [runner, pte, "--json", "--iters", str(iters), "--loader", loader, *extra]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    line = next((l for l in reversed(p.stdout.splitlines()) if l.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"{' '.join(cmd)}: no JSON (exit {p.returncode})\n{p.stderr[-2000:]}")
    j = json.loads(line)
    if "error" in j:
        raise RuntimeError(f"{' '.join(cmd)}: {j['error']}\n{p.stderr[-2000:]}")
    j["exit_code"] = p.returncode
    j["wall_s"] = round(wall, 2)
    j["cmd"] = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("ETVK_")) + " " + " ".join(cmd)
    return j


def mb(b):
    return f"{b / MB:.2f}"


def verdict(ok):
    return "PASS" if ok else "**FAIL**"


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        mem = f"{kb / 1048576:.0f} GiB"
    except (OSError, AttributeError):
        pass
    dev = "?"
    try:
        out = subprocess.run(["vulkaninfo", "--summary"], capture_output=True, text=True, timeout=30).stdout
        names = re.findall(r"deviceName\s*=\s*(.+)", out)
        drv = re.findall(r"driverInfo\s*=\s*(.+)", out)
        dev = ", ".join(names) + (f" ({drv[0].strip()})" if drv else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, Vulkan device: {dev}, {platform.platform()}"


class Progress:
    """`[k/n] what (elapsed)` lines on stderr as runs finish."""

    def __init__(self, total):
        self.total, self.done, self.start = total, 0, time.time()

    def step(self, what):
        self.done += 1
        elapsed = time.time() - self.start
        print(f"[bench] [{self.done}/{self.total}, {elapsed:.0f} s] {what}", file=sys.stderr, flush=True)


def measure(args, results):
    """Fills `results` run by run (so that a stop keeps what finished); prints each model's
    table row as soon as its runs are done."""
    import models

    runner = os.path.join(REPO, args.runner)
    if not os.access(runner, os.X_OK):
        sys.exit(f"{runner} not found: run `make build`")
    other = "mmap" if args.loader == "file" else "file"
    configs = [c for c in CONFIGS if c in args.configs]
    # exports + baseline runs + per model (one correctness run + one per configuration)
    progress = Progress(1 + len(args.models) + len(configs) * args.baseline_repeats
                        + len(args.models) * (1 + len(configs)))
    metas = {}
    for name in ["baseline", *args.models]:
        t0 = time.time()
        metas[name] = models.export(name, args.out, force=args.reexport)
        if name == "baseline" or time.time() - t0 > 1:
            progress.step(f"exported {name} ({time.time() - t0:.0f} s)")
        else:
            progress.step(f"{name}: cached export")
    results.update({"machine": machine(), "loader": args.loader, "iters": args.iters,
                    "models": {}, "baseline": {}})
    base_pte = os.path.join(args.out, "baseline.pte")
    for cfg in configs:
        env_over, flip = CONFIGS[cfg]
        loader = other if flip else args.loader
        rss, load_rss = [], []
        for _ in range(args.baseline_repeats):
            j = run_runner(runner, base_pte, loader, args.iters, child_env(env_over))
            rss.append(j["peak_rss_bytes"])
            load_rss.append(j["load_peak_rss_bytes"])
            progress.step(f"baseline {cfg} ({loader}): peak RSS {mb(rss[-1])} MB")
        results["baseline"][cfg] = {
            "median": statistics.median(rss),
            "load_median": statistics.median(load_rss),
            "all": rss,
            "loader": loader,
            "pipelines": j.get("pipelines"),
        }
    print(ROW_HEADER, flush=True)
    for name in args.models:
        meta = metas[name]
        per = {"meta": meta, "runs": {}}
        # correctness, not measured
        pre = os.path.join(args.out, name)
        extra = ["--inputs"] + [f"{pre}.input{i}.npy" for i in range(meta["n_inputs"])]
        extra += ["--expected"] + [f"{pre}.expected{i}.npy" for i in range(meta["n_outputs"])]
        tol = max(meta["max_abs_expected"], 1e-30)
        extra += ["--atol", f"{1e-3 * tol:.3g}", "--rtol", "1e-3"]
        try:
            j = run_runner(runner, f"{pre}.pte", args.loader, 0, child_env(CONFIGS["lazy"][0]), extra)
            per["match"] = j["match"]
        except RuntimeError as e:
            per["match"] = None
            per["match_error"] = str(e)
        progress.step(f"{name}: matches PyTorch eager: {per['match']}")
        for cfg in configs:
            env_over, flip = CONFIGS[cfg]
            loader = other if flip else args.loader
            j = run_runner(runner, f"{pre}.pte", loader, args.iters, child_env(env_over))
            j["loader"] = loader
            per["runs"][cfg] = j
            progress.step(
                f"{name} {cfg} ({loader}): W {mb(j['weights_bytes'])} A {mb(j['activations_bytes'])} "
                f"ring {mb(j['staging_ring_bytes'])} accounted {mb(j['accounted_peak_bytes'])} "
                f"RSS {mb(j['peak_rss_bytes'])} MB, load {j['load_ms']:.0f} ms ({j['wall_s']} s)"
            )
        results["models"][name] = per
        print(summary_row(evaluate({**results, "models": {name: per}})[0]), flush=True)
    return results


ROW_HEADER = (
    "Each model as its runs finish (MB = 10^6 bytes):\n\n"
    "| model | W | A | ring | lazy accounted peak (≤ W + A + ring) "
    "| lazy peak RSS − baseline (≤ 1.05(W+A) + ring) | legacy accounted peak ÷ (2W + A) "
    "| matches PyTorch |\n|---|---|---|---|---|---|---|---|"
)


def summary_row(r):
    """One model's headline figures, printed as soon as its runs are done."""
    return (
        f"| {r['model']} | {mb(r['W'])} | {mb(r['A'])} | {mb(r['ring'])} "
        f"| {mb(r['lazy_acc'])} {verdict(r['pass_acc'])} | {mb(r['lazy_rss'])} {verdict(r['pass_rss'])} "
        f"| {r['legacy_ratio']:.3f} | {r['match']} |"
    )


def evaluate(results):
    """Adds the derived figures and verdicts per model; returns rows for the tables."""
    base = results["baseline"]
    rows = []
    for name, per in results["models"].items():
        runs = per["runs"]
        lz, lg = runs["lazy"], runs["legacy"]
        W, A, ring = lz["weights_bytes"], lz["activations_bytes"], lz["staging_ring_bytes"]
        A_arena = runs.get("lazy_arena", lz)["activations_bytes"] if "lazy_arena" in runs else lz["arena_bytes"]
        A_shared = runs.get("lazy_shared", lz)["activations_bytes"] if "lazy_shared" in runs else lz["shared_objects_bytes"]
        lazy_rss = lz["peak_rss_bytes"] - base["lazy"]["median"]
        lg_A = lg["activations_bytes"]
        legacy_model = 2 * lg["weights_bytes"] + lg_A
        # the seed's exact legacy peak: 2W + A + w (w: the largest weight's staging buffer)
        w_max = lg["staging_peak_bytes"]
        meta = per["meta"]
        # Host copies of the model's I/O outside etvk (not in W + A): ExecuTorch's planned
        # buffers (zero-filled at load_method), the runner's input array and output copy.
        host_io = meta["et_planned_bytes"] + meta["input_bytes"] + meta["output_bytes"]
        legacy_rss = lg["peak_rss_bytes"] - base["legacy"]["median"]
        r = {
            "model": name,
            "W": W,
            "A_arena": A_arena,
            "A_shared": A_shared,
            "A": A,
            "used_arena": lz["used_arena"],
            "ring": ring,
            "lazy_acc": lz["accounted_peak_bytes"],
            "lazy_bound": W + A + ring,
            "lazy_rss": lazy_rss,
            "lazy_rss_bound": 1.05 * (W + A) + ring,
            "legacy_acc": lg["accounted_peak_bytes"],
            "legacy_A": lg_A,
            "legacy_model": legacy_model,
            "legacy_rss": legacy_rss,
            "w_max": w_max,
            "host_io": host_io,
            "init_lazy": lz["load_ms"],
            "init_legacy": lg["load_ms"],
            "match": per.get("match"),
        }
        # What the lazy RSS holds beyond W + A: the host I/O copies, and driver state for the
        # compute pipelines this model compiles beyond the baseline's (not accounted by etvk).
        base_pipes = base["lazy"].get("pipelines")
        if lz.get("pipelines") is not None and base_pipes is not None:
            r["new_pipelines"] = lz["pipelines"] - base_pipes
            r["rest"] = lazy_rss - (W + A) - host_io
        # The same target with `ring` read as the ring this model gets when it is staged (the
        # lazy_staging run: min(16.78 MB default (2^24 bytes), W)) rather than the bytes the direct-write
        # default allocated (0 on unified memory).
        if "lazy_staging" in runs:
            r["staging_ring"] = runs["lazy_staging"]["staging_ring_bytes"]
            r["lazy_rss_bound_staging_ring"] = 1.05 * (W + A) + r["staging_ring"]
        r["pass_acc"] = r["lazy_acc"] <= r["lazy_bound"]
        r["pass_rss"] = r["lazy_rss"] <= r["lazy_rss_bound"]
        r["legacy_ratio"] = r["legacy_acc"] / legacy_model
        r["legacy_rss_ratio"] = legacy_rss / legacy_model
        r["legacy_seed_ratio"] = r["legacy_acc"] / (legacy_model + w_max)
        r["pass_legacy"] = abs(r["legacy_seed_ratio"] - 1) <= 0.01
        rows.append(r)
    return rows


def tables(results, rows):
    out = []
    out.append(
        "| model | W | A (arena) | A (shared objects) | ring | lazy accounted peak | W + A + ring "
        "| lazy peak RSS − baseline | 1.05(W+A)+ring | legacy accounted peak | 2W + A "
        "| legacy peak RSS − baseline | init ms lazy / legacy |"
    )
    out.append("|" + "---|" * 13)
    for r in rows:
        a_mark = lambda used: " ◀" if used else ""
        out.append(
            f"| {r['model']} | {mb(r['W'])} | {mb(r['A_arena'])}{a_mark(r['used_arena'])} "
            f"| {mb(r['A_shared'])}{a_mark(not r['used_arena'])} | {mb(r['ring'])} "
            f"| {mb(r['lazy_acc'])} | {mb(r['lazy_bound'])} | {mb(r['lazy_rss'])} "
            f"| {mb(r['lazy_rss_bound'])} | {mb(r['legacy_acc'])} | {mb(r['legacy_model'])} "
            f"| {mb(r['legacy_rss'])} | {r['init_lazy']:.0f} / {r['init_legacy']:.0f} |"
        )
    out.append("")
    out.append("| model | lazy accounted peak ≤ W + A + ring | lazy peak RSS − baseline ≤ 1.05(W+A) + ring "
               "| legacy accounted peak ≈ 2W + A | legacy peak RSS − baseline ÷ (2W + A) "
               "| lazy peak RSS − baseline − host I/O copies "
               "| lazy peak RSS − baseline ≤ 1.05(W+A) + ring of the staged run "
               "| output matches PyTorch |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        over = lambda d: f"{mb(abs(d))} MB {'over' if d > 0 else 'under'}"
        out.append(
            f"| {r['model']} | {verdict(r['pass_acc'])} ({over(r['lazy_acc'] - r['lazy_bound'])}) "
            f"| {verdict(r['pass_rss'])} ({over(r['lazy_rss'] - r['lazy_rss_bound'])}) "
            f"| {verdict(r['pass_legacy'])}: ratio {r['legacy_ratio']:.3f}; "
            f"= 2W + A + w (w = {mb(r['w_max'])}) × {r['legacy_seed_ratio']:.3f} "
            f"| {r['legacy_rss_ratio']:.3f} "
            f"| {mb(r['lazy_rss'] - r['host_io'])} ({over(r['lazy_rss'] - r['host_io'] - r['lazy_rss_bound'])}; "
            f"host I/O {mb(r['host_io'])}) "
            + (
                f"| {verdict(r['lazy_rss'] <= r['lazy_rss_bound_staging_ring'])} "
                f"(ring {mb(r['staging_ring'])}: "
                f"{over(r['lazy_rss'] - r['lazy_rss_bound_staging_ring'])}) "
                if "staging_ring" in r
                else "| – "
            )
            + f"| {r['match']} |"
        )
    out.append("")
    if all("rest" in r for r in rows):
        out.append("| model | lazy peak RSS − baseline | − (W + A) | − host I/O copies | = rest "
                   "| pipelines beyond the baseline's | rest per pipeline |")
        out.append("|---|---|---|---|---|---|---|")
        for r in rows:
            per = mb(r["rest"] / r["new_pipelines"]) if r["new_pipelines"] > 0 else "–"
            out.append(
                f"| {r['model']} | {mb(r['lazy_rss'])} | {mb(r['W'] + r['A'])} | {mb(r['host_io'])} "
                f"| {mb(r['rest'])} | {r['new_pipelines']} | {per} |"
            )
        out.append("")
    # every configuration
    out.append("| model | config | loader | W | A | ring | staging peak | source peak | device peak "
               "| accounted peak | − (W+A+ring) | load peak RSS − baseline | peak RSS − baseline "
               "| − (1.05(W+A)+ring) | init ms | median execute ms |")
    out.append("|" + "---|" * 16)
    for name, per in results["models"].items():
        for cfg, j in per["runs"].items():
            b = results["baseline"][cfg]["median"]
            lb = results["baseline"][cfg]["load_median"]
            wa, ring = j["weights_bytes"] + j["activations_bytes"], j["staging_ring_bytes"]
            legacy, na = j["legacy_order"], "–"  # the lazy targets do not apply to legacy
            out.append(
                f"| {name} | {cfg} | {j['loader']} | {mb(j['weights_bytes'])} | {mb(j['activations_bytes'])} "
                f"| {mb(j['staging_ring_bytes'])} | {mb(j['staging_peak_bytes'])} | {mb(j['source_peak_bytes'])} "
                f"| {mb(j['device_peak_bytes'])} | {mb(j['accounted_peak_bytes'])} "
                f"| {na if legacy else mb(j['accounted_peak_bytes'] - wa - ring)} "
                f"| {mb(j['load_peak_rss_bytes'] - lb)} | {mb(j['peak_rss_bytes'] - b)} "
                f"| {na if legacy else mb(j['peak_rss_bytes'] - b - 1.05 * wa - ring)} "
                f"| {j['load_ms']:.0f} | {j['median_execute_ms']:.0f} |"
            )
    out.append("")
    bl = ", ".join(
        f"{cfg} ({v['loader']}) {mb(v['median'])} / {mb(v['load_median'])}"
        for cfg, v in results["baseline"].items()
    )
    out.append(
        "baseline_rss (median over the runs of bench/out/baseline.pte, MB; peak / peak after "
        f"load): {bl}"
    )
    return "\n".join(out)


def stop_on_signal(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true",
                    help="every model and configuration, --iters 3, 3 baseline runs (~30 min on lavapipe)")
    ap.add_argument("--models", nargs="+", help=f"default {QUICK_MODELS}, --full {FULL_MODELS}")
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS),
                    help=f"default {QUICK_CONFIGS}, --full all")
    ap.add_argument("--iters", type=int, help="default 1, --full 3")
    ap.add_argument("--loader", default="file", choices=["file", "mmap"])
    ap.add_argument("--baseline-repeats", type=int, help="default 1, --full 3")
    ap.add_argument("--runner", default="build/etvk_run")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out"))
    ap.add_argument("--reexport", action="store_true")
    ap.add_argument("--from-json", help="re-render tables from a saved memory.json")
    ap.add_argument("--update-doc", help="replace the bench-memory block of this markdown file")
    args = ap.parse_args()
    defaults = (FULL_MODELS, list(CONFIGS), 3, 3) if args.full else (QUICK_MODELS, QUICK_CONFIGS, 1, 1)
    args.models = args.models or defaults[0]
    args.configs = args.configs or defaults[1]
    args.iters = args.iters if args.iters is not None else defaults[2]
    args.baseline_repeats = args.baseline_repeats or defaults[3]
    for need in ("lazy", "legacy"):
        if need not in args.configs:
            ap.error(f"--configs must include {need}")
    if args.update_doc and not (args.full or args.from_json):
        ap.error("--update-doc needs --full (the doc holds the full figures)")

    stopped = False
    if args.from_json:
        results = json.load(open(args.from_json))
    else:
        # SIGTERM too: stop like Ctrl-C, with the tables of what finished.
        signal.signal(signal.SIGTERM, stop_on_signal)
        results = {}
        try:
            measure(args, results)
        except KeyboardInterrupt:
            stopped = True
            print(f"[bench] stopped: tables of the {len(results.get('models', {}))} model(s) that finished",
                  file=sys.stderr, flush=True)
        results["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        results["command"] = "make bench-memory  # = " + " ".join(
            [".venv/bin/python", "bench/memory.py", *sys.argv[1:]]
        )
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "memory.json"), "w") as f:
            json.dump(results, f, indent=1)
        if not results.get("models"):
            return 130 if stopped else 1
    rows = evaluate(results)
    text = tables(results, rows)
    header = (
        f"Measured {results.get('date', '?')} with `{results.get('command', '?')}`; "
        f"loader `{results['loader']}`, `--iters {results['iters']}`, one fresh process per run.\n"
        f"Machine: {results['machine']}.\n"
        "Sizes in MB (10^6 bytes). ◀ marks the planner the default (auto) picked.\n"
    )
    doc = header + "\n" + text + "\n"
    print(doc)
    with open(os.path.join(args.out, "memory.md"), "w") as f:
        f.write(doc)
    if stopped:
        return 130
    if args.update_doc:
        path = args.update_doc
        body = open(path).read() if os.path.exists(path) else ""
        begin, end = "<!-- bench-memory:begin -->", "<!-- bench-memory:end -->"
        block = f"{begin}\n{doc}{end}"
        if begin in body and end in body:
            body = body[: body.index(begin)] + block + body[body.index(end) + len(end):]
        else:
            body += ("\n" if body else "") + block + "\n"
        with open(path, "w") as f:
            f.write(body)
        print(f"[bench] updated {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
