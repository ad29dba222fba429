#!/usr/bin/python3
"""Renders the results of bench/bench.py: the PNG charts and the Markdown page.

    bench/report.py RESULTS.json [--doc docs/benchmarks.md]

The charts go beside RESULTS.json. The page is generated except for the text between the
``<!-- notes:begin -->`` and ``<!-- notes:end -->`` markers of an existing page, which is kept
(the hand-written analysis).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NOTES_BEGIN = "<!-- notes:begin -->"
NOTES_END = "<!-- notes:end -->"

COLORS = {
    "ours-embedded": "#1f5fbf",
    "ours-daemon": "#6fa8ff",
    "modwsgi-embedded": "#5a5a5a",
    "modwsgi-daemon": "#b0b0b0",
    "gunicorn-sync": "#2e9e5b",
    "gunicorn-gthread": "#9fd8a8",
    "uwsgi": "#e08a1e",
}
SAME_MODE = {"ours-embedded": "modwsgi-embedded", "ours-daemon": "modwsgi-daemon"}


def fmt_rps(v):
    if v is None:
        return "–"
    return f"{v / 1000:.1f}k" if v >= 10000 else f"{v:.0f}"


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}×"


def fmt_ms(v):
    if v is None:
        return "–"
    return f"{v:.2f}" if v < 10 else f"{v:.0f}"


class Results:
    def __init__(self, data: dict):
        self.meta = data["meta"]
        self.rows = data["results"]
        self.index = {(r["server"], r["workload"], r["connections"]): r for r in self.rows}
        self.servers = list(self.meta["servers"])
        self.workloads = list(self.meta["workloads"])
        self.conns = list(self.meta["connections"])

    def get(self, server, workload, conns, key="rps"):
        r = self.index.get((server, workload, conns))
        return None if r is None else r.get(key)

    def ratio(self, a, b, workload, conns, key="rps"):
        x, y = self.get(a, workload, conns, key), self.get(b, workload, conns, key)
        if x is None or not y:
            return None
        return x / y


def chart_rps(res: Results, path: Path) -> None:
    servers = [s for s in res.servers if s != "static"]
    nrows, ncols = len(res.conns), len(res.workloads)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.6 * nrows + 1.0), squeeze=False)
    for i, conns in enumerate(res.conns):
        for j, w in enumerate(res.workloads):
            ax = axes[i][j]
            vals = [res.get(s, w, conns) or 0 for s in servers]
            bars = ax.bar(range(len(servers)), vals, color=[COLORS.get(s, "#888") for s in servers], width=0.8)
            top = max(vals + [res.get("static", w, conns) or 0]) or 1
            for b, v in zip(bars, vals):
                ax.text(b.get_x() + b.get_width() / 2, v + top * 0.01, fmt_rps(v), ha="center", va="bottom",
                        fontsize=7, rotation=90)
            ceiling = res.get("static", w, conns)
            if ceiling:
                ax.axhline(ceiling, color="#c0392b", linestyle="--", linewidth=1.4)
                ax.text(len(servers) - 0.5, ceiling, f"static {fmt_rps(ceiling)}", color="#c0392b",
                        ha="right", va="bottom", fontsize=8,
                        bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
            ax.set_ylim(0, top * 1.22)
            ax.set_xticks([])
            ax.grid(axis="y", alpha=0.3)
            ax.set_title(f"{res.meta['workloads'][w]}\n{conns} connections", fontsize=9)
            if j == 0:
                ax.set_ylabel("requests/s")
            ax.tick_params(axis="y", labelsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS.get(s, "#888")) for s in servers]
    labels = [res.meta["servers"][s] for s in servers]
    handles.append(plt.Line2D([0], [0], color="#c0392b", linestyle="--"))
    labels.append("Apache static file (ceiling)")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.suptitle("Requests per second (median of runs; higher is better)", fontsize=12)
    fig.tight_layout(rect=(0, 0.09, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_p99(res: Results, path: Path) -> None:
    servers = res.servers
    conns = max(res.conns)
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(servers)
    for k, s in enumerate(servers):
        xs, ys = [], []
        for j, w in enumerate(res.workloads):
            v = res.get(s, w, conns, "p99_ms")
            if v is not None:
                xs.append(j + (k - (len(servers) - 1) / 2) * width)
                ys.append(v)
        ax.bar(xs, ys, width=width, color=COLORS.get(s, "#c0392b"), label=res.meta["servers"][s])
    ax.set_yscale("log")
    ax.set_xticks(range(len(res.workloads)))
    ax.set_xticklabels([res.meta["workloads"][w] for w in res.workloads], fontsize=9)
    ax.set_ylabel("p99 latency, ms (log scale)")
    ax.set_title(f"p99 latency at {conns} connections (lower is better; red = Apache static file)")
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def shortfall(fraction: float) -> str:
    """A miss as a percentage: whole percents, one decimal below 1%, "<0.1%" below that."""
    percent = fraction * 100
    if percent < 0.1:
        return "<0.1%"
    return f"{percent:.1f}%" if percent < 1 else f"{percent:.0f}%"


def target_rows(res: Results) -> list[tuple[str, str, str, str]]:
    """(target, measured, met?, detail) for the targets of issue 8 section 2."""
    rows = []

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    def ratio_target(desc, a, b, w, goal):
        cells = []
        oks = []
        for c in res.conns:
            r = res.ratio(a, b, w, c)
            if r is None:
                continue
            cells.append(f"{r:.2f}× at {c} conns ({fmt_rps(res.get(a, w, c))} vs {fmt_rps(res.get(b, w, c))})")
            oks.append(r >= goal)
        if not cells:
            return
        # The goal is stated at 8 connections; both counts are shown.
        first_ok = oks[0]
        short = "" if first_ok else f" (by {shortfall(1 - res.ratio(a, b, w, res.conns[0]) / goal)})"
        rows.append((desc, "; ".join(cells), verdict(first_ok) + short, ""))

    ratio_target("embedded hello world ≥ 0.8× static", "ours-embedded", "static", "hello", 0.8)
    ratio_target("daemon hello world ≥ 2× mod_wsgi 4.9.4 daemon", "ours-daemon", "modwsgi-daemon", "hello", 2.0)
    ratio_target("embedded 64 KiB POST ≥ 2× mod_wsgi 4.9.4 embedded", "ours-embedded", "modwsgi-embedded", "post", 2.0)
    ratio_target("daemon 64 KiB POST ≥ 2× mod_wsgi 4.9.4 daemon", "ours-daemon", "modwsgi-daemon", "post", 2.0)
    ratio_target("daemon 1 MiB response ≥ 3× mod_wsgi 4.9.4 daemon", "ours-daemon", "modwsgi-daemon", "1m", 3.0)
    ratio_target("daemon 10 MiB file_wrapper ≥ 0.9× static", "ours-daemon", "static", "file10m", 0.9)

    # p99 at the highest connection count: embedded no worse than static, per workload.
    c = max(res.conns)
    worse = []
    checked = 0
    for w in res.workloads:
        ours, static = res.get("ours-embedded", w, c, "p99_ms"), res.get("static", w, c, "p99_ms")
        if ours is None or static is None:
            continue
        checked += 1
        if ours > static:
            worse.append(f"{w}: {fmt_ms(ours)} vs {fmt_ms(static)} ms")
    if checked:
        rows.append((
            f"embedded p99 at {c} conns ≤ static's",
            f"{checked - len(worse)} of {checked} workloads",
            verdict(not worse),
            "; ".join(worse),
        ))
    worse = []
    checked = 0
    for ours, theirs in SAME_MODE.items():
        for w in res.workloads:
            for cc in res.conns:
                a, b = res.get(ours, w, cc, "p99_ms"), res.get(theirs, w, cc, "p99_ms")
                if a is None or b is None:
                    continue
                checked += 1
                if a > b:
                    worse.append(f"{ours.split('-')[1]} {w} c={cc}: {fmt_ms(a)} vs {fmt_ms(b)} ms")
    if checked:
        rows.append((
            "p99 no worse than mod_wsgi 4.9.4 anywhere",
            f"{checked - len(worse)} of {checked} points",
            verdict(not worse),
            "; ".join(worse),
        ))
    for ours, theirs in SAME_MODE.items():
        a, b = peak(res, ours, "pss_kib"), peak(res, theirs, "pss_kib")
        if a is None or b is None:
            continue
        rows.append((
            f"memory ≤ mod_wsgi 4.9.4 ({ours.split('-')[1]})",
            f"peak PSS {a / 1024:.0f} MiB vs {b / 1024:.0f} MiB",
            verdict(a <= b) + ("" if a <= b else f" (by {shortfall(a / b - 1)})"),
            "",
        ))
    return rows


def peak(res: Results, server: str, key: str):
    vals = [r[key] for r in res.rows if r["server"] == server and r.get(key) is not None]
    return max(vals) if vals else None


def render_doc(res: Results, doc: Path, chart: Path, p99chart: Path, results_json: Path) -> str:
    m = res.meta
    v = m["versions"]
    rel = lambda p: os.path.relpath(p, doc.parent)  # noqa: E731
    out = []
    out.append("# Benchmarks\n")
    out.append(
        "Our mod_wsgi against Debian's mod_wsgi 4.9.4, Gunicorn and uWSGI, on the same machine in one "
        "run, with Apache serving the same bytes as a static file as the ceiling no Apache module can pass. "
        "Produced by `bench/run.sh` (see [How it is measured](#how-it-is-measured)); "
        f"the raw data is in [{rel(results_json)}]({rel(results_json)}) and "
        f"[{rel(results_json.with_suffix('.csv'))}]({rel(results_json.with_suffix('.csv'))}).\n"
    )
    out.append(f"![requests per second]({rel(chart)})\n")
    out.append(f"![p99 latency]({rel(p99chart)})\n")
    # Notes placeholder is filled by the caller.
    out.append(NOTES_BEGIN + "\n" + "{notes}" + "\n" + NOTES_END + "\n")
    out.append("## Targets (issue 8 §2)\n")
    out.append("Throughput targets are judged at 8 connections, the count they were stated at; "
               "the other count is shown beside them.\n")
    out.append("| target | measured | verdict | detail |")
    out.append("|---|---|---|---|")
    for t in target_rows(res):
        out.append("| " + " | ".join(t) + " |")
    out.append("")
    out.append("## Results\n")
    out.append("Medians of the runs. ×static: against Apache serving the same bytes as a file; "
               "×mod_wsgi: against Debian's mod_wsgi 4.9.4 in the same mode (our module only). "
               "Errors: socket errors plus non-2xx answers, summed over the runs. "
               "CPU: the server's CPU time (user + system, all of its processes) per request. "
               "PSS/RSS: summed over all of the server's processes after the run.\n")
    for w in res.workloads:
        for c in res.conns:
            out.append(f"### {m['workloads'][w]}, {c} connections\n")
            out.append("| server | req/s | ×static | ×mod_wsgi | p50 ms | p99 ms | errors | CPU µs/req | PSS MiB | RSS MiB |")
            out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
            for s in res.servers:
                r = res.index.get((s, w, c))
                if r is None:
                    continue
                name = m["servers"][s]
                if s.startswith("ours"):
                    name = f"**{name}**"
                out.append("| " + " | ".join([
                    name,
                    fmt_rps(r["rps"]),
                    fmt_ratio(res.ratio(s, "static", w, c)) if s != "static" else "1.00×",
                    fmt_ratio(res.ratio(s, SAME_MODE[s], w, c)) if s in SAME_MODE else "",
                    fmt_ms(r["p50_ms"]),
                    fmt_ms(r["p99_ms"]),
                    str(r["errors"]),
                    "–" if r["cpu_us_per_req"] is None else f"{r['cpu_us_per_req']:.0f}",
                    f"{r['pss_kib'] / 1024:.0f}",
                    f"{r['rss_kib'] / 1024:.0f}",
                ]) + " |")
            out.append("")
    out.append("### Memory\n")
    out.append("Summed over the server's processes: at rest after start-up, and the peak seen after any run.\n")
    out.append("| server | processes | idle PSS MiB | idle RSS MiB | peak PSS MiB | peak RSS MiB |")
    out.append("|---|--:|--:|--:|--:|--:|")
    for s in res.servers:
        rows = [r for r in res.rows if r["server"] == s]
        if not rows:
            continue
        out.append("| " + " | ".join([
            m["servers"][s],
            f"{max(r['processes'] for r in rows):.0f}",
            f"{rows[0]['idle_pss_kib'] / 1024:.0f}",
            f"{rows[0]['idle_rss_kib'] / 1024:.0f}",
            f"{peak(res, s, 'pss_kib') / 1024:.0f}",
            f"{peak(res, s, 'rss_kib') / 1024:.0f}",
        ]) + " |")
    out.append("")
    out.append("## How it is measured\n")
    out.append(
        "```sh\nbench/run.sh            # full run: about 25 minutes, rewrites this page\n"
        "bench/run.sh --quick    # smoke run: 1 run of 1 s per point, results in the private root\n"
        "bench/run.sh --help     # subsets of servers, workloads, connections; another module\n```\n"
    )
    out.append(
        f"- Machine: {v['cpu']}, {v['cpus']} CPUs, Linux {v['kernel']}. Run on {m['date']}"
        f"{' (quick mode)' if m['quick'] else ''}; load average {' '.join(m['loadavg_start'])} at the start, "
        f"{' '.join(m.get('loadavg_end', ['?']))} at the end; {m.get('elapsed_s', '?')} s in all"
        + "".join(
            f"; {', '.join(rerun['servers'])} measured again on {rerun['date']} (`--replace`), "
            f"our module from commit `{rerun.get('repo_commit')}`"
            for rerun in m.get("reruns", [])
        )
        + ".\n"
        f"- Versions: Apache {v['apache2']}, Debian mod_wsgi {v['libapache2-mod-wsgi-py3']}, Gunicorn {v['gunicorn']}, "
        f"uWSGI {v['uwsgi']}, wrk {v['wrk']}, Python {v['python3']}; our module from commit `{v['repo_commit']}`.\n"
        f"- Each server runs on 127.0.0.1 from its own private root, pinned to CPU {m['server_cpu']} with "
        f"`taskset`; wrk (`-t1 --latency --timeout 5s`) runs on CPU {m['client_cpu']}. For each point: "
        f"{m['warmup_s']} s of warm-up, then {m['duration_s']} s measured, {m['runs']} times; the medians are reported. "
        + (
            "The runs go in rounds: each round starts every server afresh and measures each of its points once, "
            "so that a slow spell of this shared virtual machine falls on one run of several servers, not on every "
            "run of one.\n"
            if m.get("rounds")
            else "\n"
        )
        + "- Server CPU time: utime + stime from `/proc/<pid>/stat` of every process of the server (and the reaped "
        "children of its parent) before and after the measured run, divided by the requests wrk counted. "
        "Memory: `Rss` and `Pss` of `/proc/<pid>/smaps_rollup`, summed over the same processes.\n"
        "- All Apache servers share one configuration: mpm_event with this block, `LogLevel warn`, an access log "
        "(`CustomLog`, common format plus `%D`), the same four modules (mpm_event, authz_core, mime, dir):\n"
    )
    out.append("```apache\n" + m["apache_mpm_config"] + "\n```\n")
    out.append(
        "  The WSGI servers add `WSGIEnableSendfile On`, `WSGIApplicationGroup %{GLOBAL}` and "
        "`WSGIScriptAlias / bench_app.py`; daemon mode adds "
        f"`WSGIDaemonProcess bench processes=1 threads={m['daemon_threads']}` and `WSGIProcessGroup bench`. "
        "Our module and Debian's (`/usr/lib/apache2/modules/mod_wsgi.so-3.11`, loaded by path, not enabled "
        "system-wide) get the identical configuration.\n"
        "- Gunicorn: sync with 3 workers (2 × CPU + 1 for its one CPU); gthread with 1 worker of "
        f"{m['daemon_threads']} threads, like the daemon. Both write an access log. "
        f"uWSGI: `--http-socket --master --processes 1 --threads {m['daemon_threads']}`, logging requests to "
        "a file, with `--add-header 'Connection: close'` (its raw HTTP socket closes every connection without "
        "saying so, which wrk would count as a read error per request). Gunicorn sync and uWSGI reconnect for "
        "every request; the Apache servers and gthread keep connections alive.\n"
        "- The application is [bench/apps/bench_app.py](../bench/apps/bench_app.py), the same file for every "
        "server; each response is checked byte for byte before the point is measured. The 1 MiB response and "
        "the 10 MiB file carry a `Content-Length`. The 64 KiB POST has no static equivalent, so it has no "
        "×static ratio.\n"
        "- The machine has 2 CPUs, one for the server and one for wrk: anything else running at the same "
        "time (builds, test suites) takes CPU from one of them, so compare the ratios of one run rather than "
        "absolute numbers across runs.\n"
    )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--doc", type=Path, required=True)
    args = ap.parse_args()
    res = Results(json.loads(args.results.read_text()))
    chart = args.results.parent / "requests-per-second.png"
    p99chart = args.results.parent / "p99-latency.png"
    chart_rps(res, chart)
    chart_p99(res, p99chart)
    notes = "## Where we stand\n\n(Not written yet: see the targets table below.)\n"
    if args.doc.exists():
        old = args.doc.read_text()
        if NOTES_BEGIN in old and NOTES_END in old:
            notes = old.split(NOTES_BEGIN, 1)[1].split(NOTES_END, 1)[0].strip("\n")
    text = render_doc(res, args.doc, chart, p99chart, args.results).replace("{notes}", notes)
    args.doc.write_text(text)
    print(f"report: wrote {args.doc}, {chart} and {p99chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
