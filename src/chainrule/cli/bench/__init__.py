"""``chainrule bench``: chainrule, eager and compiled (``cr.compile``), side by side with
hand-written NumPy, PyTorch and autograd.

Every case runs all libraries in one process, interleaved (each repetition visits the
libraries in a rotated order, so that drift in the machine's speed hits all alike), with
the same number of BLAS / OpenMP threads (one by default), and reports the median of many
repetitions with its spread (half the interquartile range) and each library's ratio to
the hand-written NumPy.  Before anything is timed, each library's derivatives are checked
against the hand-written ones.

    chainrule bench                      # the full suite (a few minutes)
    chainrule bench --quick              # tiny sizes, a smoke run
    chainrule bench --json out.json      # also write the raw numbers
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np

from .cases import CASES, COMPILED_TARGETS, LABELS, LIBS, TARGETS, Case, available

__all__ = ["configure", "run", "run_suite", "check_case", "format_table", "CASES"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repetitions: a smoke run of every case")
    from .. import integer, output_file

    parser.add_argument("--threads", type=integer(1, 256), default=1,
                        help="BLAS/OpenMP threads for every library (default 1)")
    parser.add_argument("--reps", type=integer(1, 100_000), default=None,
                        help="repetitions per case (default 15; 3 for the deep network, 7 for "
                             "the HVP; 3 with --quick)")
    parser.add_argument("--json", metavar="PATH", default=None, type=output_file,
                        help="write the raw numbers here (checked before anything runs)")
    parser.add_argument("--cases", default=None,
                        help="comma-separated case keys to run (default all): "
                             + ", ".join(c.key for c in CASES))
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc's malloc thresholds alone (by default freed memory is "
                             "kept for reuse, so that page faults do not swing the timings)")
    parser.add_argument("--libs", default=None,
                        help="comma-separated libraries (default: those installed): "
                             + ", ".join(LIBS))


def run(args: argparse.Namespace) -> int:
    from .. import fail

    try:
        cases = _select_cases(args.cases)
    except ValueError as exc:
        return fail("bench", str(exc))
    libs = [lb for lb in (args.libs.split(",") if args.libs else LIBS) if lb]
    unknown = [lb for lb in libs if lb not in LIBS]
    if unknown:
        return fail("bench", f"unknown libraries {unknown}; choose from {list(LIBS)}")
    for must in ("numpy", "chainrule"):
        if must not in libs:
            libs.insert(0 if must == "numpy" else 1, must)
    if args.json:
        from .. import file_problem

        problem = file_problem("--json", args.json)  # before the suite runs, not after
        if problem:
            return fail("bench", problem)
    malloc = False if args.system_malloc else steady_malloc()
    report = run_suite(cases, libs, quick=args.quick, threads=args.threads, reps=args.reps,
                       progress=sys.stderr)
    report["config"]["steady_malloc"] = malloc
    print(format_table(report))
    if args.json:
        from ...io import atomic_write

        text = json.dumps(report, indent=1).encode()
        atomic_write(args.json, lambda f: f.write(text))
        print(f"raw numbers written to {args.json}")
    bad = [c["key"] for c in report["cases"] if not c["check"]["ok"]]
    if bad:
        print(f"derivatives disagree with hand NumPy in: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


def _select_cases(spec: str | None) -> list[Case]:
    if not spec:
        return list(CASES)
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    by_key = {c.key: c for c in CASES}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ValueError(f"unknown cases {missing}; choose from {list(by_key)}")
    if not keys:
        raise ValueError(f"--cases {spec!r} names no case; choose from {list(by_key)}")
    return [by_key[k] for k in keys]


# ------------------------------------------------------------------------------------------
# the allocator


def steady_malloc() -> bool:
    """Keep freed memory in the process (glibc): a step that frees megabyte arrays would
    otherwise hand them back to the OS and page-fault them in again on the next step, which
    swings a step's time by 2x depending on the order in which arrays happen to be freed,
    whichever library runs.  Returns whether the setting took (glibc only)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 32 * 2**20)  # glibc's maximum
        ok &= libc.mallopt(m_trim_threshold, 2**30)
        return bool(ok)
    except (OSError, AttributeError):
        return False


# ------------------------------------------------------------------------------------------
# threads


class _Threads:
    """Limit BLAS and OpenMP pools (threadpoolctl) and torch's intra-op pool to ``n``."""

    def __init__(self, n: int, torch_too: bool) -> None:
        self.n = n
        self.torch_too = torch_too
        self._ctl = None
        self._torch_prev = None

    def __enter__(self) -> _Threads:
        if self.torch_too:
            import torch

            self._torch_prev = torch.get_num_threads()
            torch.set_num_threads(self.n)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self._ctl = None
        else:
            self._ctl = threadpool_limits(limits=self.n)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._ctl is not None:
            self._ctl.restore_original_limits()
        if self._torch_prev is not None:
            import torch

            torch.set_num_threads(self._torch_prev)


def machine_info(threads: int) -> dict:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "numpy": np.__version__,
    }
    import chainrule

    info["chainrule"] = chainrule.__version__
    for mod in ("torch", "autograd"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", None) or _dist_version(mod)
        except ImportError:
            info[mod] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "threading_layer")}
            for d in threadpool_info() if d.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = None
    info["env"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                               "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                   if k in os.environ}
    return info


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ------------------------------------------------------------------------------------------
# checking


def to_numpy(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):  # torch or chainrule tensor
        v = v.detach()
        return np.asarray(v.numpy())
    return np.asarray(v)


def check_case(case: Case, size: dict, libs: list[str]) -> dict:
    """Run each library's step once from the same start; compare with hand NumPy."""
    outs = {lib: [to_numpy(g) for g in case.build(lib, size)()] for lib in libs}
    ref = outs["numpy"]
    errors: dict[str, float] = {}
    dtypes: dict[str, list[str]] = {}
    ok = True
    for lib in libs:
        got = outs[lib]
        dtypes[lib] = [str(g.dtype) for g in got]
        if len(got) != len(ref) or any(g.shape != r.shape for g, r in zip(got, ref, strict=True)):
            errors[lib] = float("inf")
            ok = False
            continue
        err = 0.0
        for g, r in zip(got, ref, strict=True):
            scale = float(np.max(np.abs(r))) if r.size else 0.0
            diff = float(np.max(np.abs(g.astype(np.float64) - r))) if r.size else 0.0
            err = max(err, diff / (scale or 1.0))
        errors[lib] = err
        if not err <= case.rtol:
            ok = False
    # float32 in, float32 out: chainrule, eager or compiled, must not upcast
    for lib in ("chainrule", "compiled"):
        if lib in dtypes and dtypes[lib] != dtypes["numpy"]:
            ok = False
    return {"ok": ok, "rel_error": errors, "dtypes": dtypes, "rtol": case.rtol}


# ------------------------------------------------------------------------------------------
# timing


def _calibrate(step: Any, min_block: float, max_inner: int) -> int:
    step()  # warm-up: first-call costs (caches, lazy imports) are not what we measure
    t = time.perf_counter()
    step()
    dt = time.perf_counter() - t
    return max(1, min(max_inner, int(min_block / max(dt, 1e-9))))


def time_case(case: Case, size: dict, libs: list[str], reps: int, min_block: float,
              max_inner: int) -> dict[str, list[float]]:
    steps = {lib: case.build(lib, size) for lib in libs}
    inner = {lib: _calibrate(steps[lib], min_block, max_inner) for lib in libs}
    per = case.per(size)
    samples: dict[str, list[float]] = {lib: [] for lib in libs}
    perf = time.perf_counter
    for r in range(reps):
        k = r % len(libs)
        for lib in libs[k:] + libs[:k]:  # rotate the order: drift hits everyone alike
            step, n = steps[lib], inner[lib]
            gc.collect()
            t = perf()
            for _ in range(n):
                step()
            samples[lib].append((perf() - t) / n / per)
    return samples


def measure_memory(case: Case, size: dict, lib: str) -> int | None:
    """Peak bytes allocated by one step above what was live before it (tracemalloc sees
    NumPy's allocations; torch's allocator is invisible to it)."""
    if lib == "torch":
        return None
    step = case.build(lib, size)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = step()
        peak = tracemalloc.get_traced_memory()[1] - base
        del out
    finally:
        tracemalloc.stop()
    return int(peak)


def _stats(xs: list[float]) -> dict:
    a = np.asarray(xs)
    q25, med, q75 = np.percentile(a, [25, 50, 75])
    return {"median": float(med), "spread": float((q75 - q25) / 2), "min": float(a.min()),
            "n": len(xs)}


def run_suite(cases: list[Case], libs: list[str], *, quick: bool = False, threads: int = 1,
              reps: int | None = None, progress: Any = None) -> dict:
    libs = [lb for lb in libs if available(lb)]
    report: dict[str, Any] = {
        "machine": machine_info(threads),
        "config": {"quick": quick, "threads": threads, "libs": libs,
                   "command": "chainrule bench " + " ".join(sys.argv[2:]) if
                   os.path.basename(sys.argv[0]).startswith("chainrule") else None},
        "cases": [],
    }
    t_start = time.perf_counter()
    with _Threads(threads, "torch" in libs), warnings.catch_warnings():
        # torch's own deprecation notices (its forward-mode AD uses torch.jit) are noise here
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\b")
        for case in cases:
            size = case.quick if quick else case.full
            case_libs = [lb for lb in libs if lb in case.libs]
            t0 = time.perf_counter()
            if progress is not None:
                print(f"[{time.perf_counter() - t_start:6.1f}s] {case.key} ...", file=progress,
                      flush=True)
            check = check_case(case, size, case_libs)
            gc.collect()
            gc.freeze()  # objects alive now (torch's modules, the data) are not GC'd again
            try:
                n_reps = reps or (3 if quick else case.reps)
                samples = time_case(case, size, case_libs, n_reps,
                                    min_block=0.002 if quick else case.min_block,
                                    max_inner=3 if quick else 100_000)
                memory = ({lb: measure_memory(case, size, lb) for lb in case_libs}
                          if case.memory else None)
            finally:
                gc.unfreeze()
            stats = {lb: _stats(s) for lb, s in samples.items()}
            hand = stats["numpy"]["median"]
            entry = {
                "key": case.key, "label": case.label, "unit": case.unit, "size": size,
                "samples": samples, "stats": stats,
                "ratio": {lb: stats[lb]["median"] / hand for lb in case_libs},
                "check": check,
                "seconds": time.perf_counter() - t0,
            }
            if memory is not None:
                entry["memory"] = memory
                entry["memory_ratio"] = {lb: (m / memory["numpy"] if m is not None else None)
                                         for lb, m in memory.items()}
            report["cases"].append(entry)
    report["seconds"] = time.perf_counter() - t_start
    report["targets"] = evaluate_targets(report)
    return report


def evaluate_targets(report: dict) -> list[dict]:
    """One entry per target, each naming its library ("lib"): TARGETS for eager chainrule,
    with the comparisons against PyTorch and autograd, then COMPILED_TARGETS for the
    compiled column (only where that column was run)."""
    by_key = {c["key"]: c for c in report["cases"]}
    out = []
    for key, metric, limit in TARGETS:
        c = by_key.get(key)
        if c is None:
            continue
        r = (c["memory_ratio"] if metric == "memory" else c["ratio"]).get("chainrule")
        out.append({"lib": "chainrule", "case": key, "metric": metric, "limit": limit,
                    "value": r, "ok": r is not None and r <= limit,
                    "what": f"{metric} ratio to hand NumPy <= {limit}x"})
    for c in report["cases"]:
        mine = c["stats"]["chainrule"]["median"]
        for lib in ("torch", "autograd"):
            if lib in c["stats"]:
                other = c["stats"][lib]["median"]
                out.append({"lib": "chainrule", "case": c["key"], "metric": f"vs {lib}",
                            "limit": 1.0, "value": mine / other, "ok": mine <= other,
                            "what": f"not slower than {LABELS[lib]}"})
    for key, metric, limit in COMPILED_TARGETS:
        c = by_key.get(key)
        if c is None or "compiled" not in c["stats"]:
            continue
        r = (c.get("memory_ratio", {}) if metric == "memory" else c["ratio"]).get("compiled")
        out.append({"lib": "compiled", "case": key, "metric": metric, "limit": limit,
                    "value": r, "ok": r is not None and r <= limit,
                    "what": f"{metric} ratio to hand NumPy <= {limit}x"})
    return out


# ------------------------------------------------------------------------------------------
# the table


def fmt_time(s: float) -> str:
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= f:
            return f"{s / f:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_bytes(b: float) -> str:
    return f"{b / 2**20:.1f} MiB"


def format_table(report: dict) -> str:
    libs = report["config"]["libs"]
    m = report["machine"]
    lines = [
        f"chainrule bench -- {m['cpu']}, {m['cores']} cores, {m['threads']} thread(s); "
        f"numpy {m['numpy']}, torch {m.get('torch')}, autograd {m.get('autograd')}"
        + ("  [--quick: tiny sizes, numbers mean nothing]" if report["config"]["quick"] else ""),
        "median per unit, +- half the interquartile range; (x) = ratio to hand NumPy"
        + ("; glibc malloc keeps freed memory" if report["config"].get("steady_malloc") else ""),
        "",
    ]
    head = ["case", "unit"] + [LABELS[lb] for lb in libs]
    rows = []
    for c in report["cases"]:
        row = [c["label"], c["unit"]]
        for lb in libs:
            st = c["stats"].get(lb)
            if st is None:
                row.append("-")
                continue
            cell = f"{fmt_time(st['median'])} +-{100 * st['spread'] / st['median']:.0f}%"
            if lb != "numpy":
                cell += f" ({c['ratio'][lb]:.2f}x)"
            row.append(cell)
        rows.append(row)
        if "memory" in c:
            row = ["  its peak memory of fwd+bwd above baseline", "MiB"]
            for lb in libs:
                mem = c["memory"].get(lb)
                if mem is None:
                    row.append("-" if lb not in c["memory"] else "n/a")
                    continue
                cell = fmt_bytes(mem)
                if lb != "numpy":
                    cell += f" ({c['memory_ratio'][lb]:.2f}x)"
                row.append(cell)
            rows.append(row)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    sep = "  "
    lines.append(sep.join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    lines.append(sep.join("-" * w for w in widths))
    for r in rows:
        lines.append(sep.join(x.ljust(w) for x, w in zip(r, widths, strict=True)))
    lines.append("")
    bad_checks = [c["key"] for c in report["cases"] if not c["check"]["ok"]]
    lines.append("derivatives checked against hand NumPy before timing: "
                 + ("all agree" if not bad_checks else "DISAGREE in " + ", ".join(bad_checks)))
    quick = " -- not meaningful at --quick sizes:" if report["config"]["quick"] else ":"
    for lib in ("chainrule", "compiled"):
        targets = [t for t in report["targets"] if t.get("lib", "chainrule") == lib]
        if not targets and lib != "chainrule":
            continue
        lines.append(f"targets ({LABELS[lib]})" + quick)
        for t in targets:
            mark = "ok  " if t["ok"] else "MISS"
            val = "n/a" if t["value"] is None else f"{t['value']:.2f}x"
            lines.append(f"  [{mark}] {t['case']:<16} {t['what']:<36} {val}")
    lines.append(f"total time {report['seconds']:.0f} s")
    return "\n".join(lines)
