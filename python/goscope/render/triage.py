"""The triage report: what a core is, what crashed, and the goroutines in groups of identical
stacks, the crashed goroutine's group first, then the largest."""

from __future__ import annotations

from typing import Any, Sequence

from goscope.render.heap import human_bytes
from goscope.render.panics import render_crash
from goscope.render.style import Style

Group = dict[str, Any]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _counts(counts: dict[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {n:,}" for name, n in ordered)


def group_lines(number: int, group: Group, style: Style) -> list[str]:
    count = int(group.get("count", 0))
    head = f"[{number}] {_plural(count, 'goroutine')}  {_counts(group.get('states') or {})}"
    if group.get("crashed"):
        head += "  (crashed)"
    lines = [style.heading(head)]
    low, high = group.get("min_wait_minutes"), group.get("max_wait_minutes")
    if isinstance(low, int) and isinstance(high, int) and high >= 1:
        lines.append(
            f"    waiting {low}-{high} minutes" if low != high else f"    waiting {low} minutes"
        )
    creators = group.get("created_by") or {}
    if creators:
        lines.append(style.dim(f"    created by {_counts(creators)}"))
    labels = group.get("labels") or {}
    if labels:
        lines.append(style.dim(f"    labels: {_counts(labels)}"))
    ids = group.get("ids") or []
    shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
    lines.append(style.dim(f"    goroutines {shown}"))
    for frame in group.get("frames") or []:
        name = str(frame.get("function"))
        if frame.get("inlined"):
            name += "(...)"
        lines.append(f"    {style.emphasis(name)}")
        lines.append(f"        {frame.get('file') or '?'}:{frame.get('line')}")
    return lines


def channel_lines(channels: Sequence[dict[str, Any]], style: Style, limit: int = 20) -> list[str]:
    """Channels with waiters, most waiters first: type, buffer, closed, who waits."""
    ordered = sorted(
        channels, key=lambda c: -(len(c.get("receivers") or []) + len(c.get("senders") or []))
    )
    lines = []
    for c in ordered[:limit]:
        receivers, senders = c.get("receivers") or [], c.get("senders") or []
        buffer = f"buffered {c.get('len')}/{c.get('cap')}" if c.get("cap") else "unbuffered"
        text = f"  chan {c.get('elem_type') or '?'} {style.address(hex(c.get('addr', 0)))} {buffer}"
        if c.get("closed"):
            text += ", closed"
        who = []
        if receivers:
            who.append(f"{_plural(len(receivers), 'receiver')} ({_ids(receivers)})")
        if senders:
            who.append(f"{_plural(len(senders), 'sender')} ({_ids(senders)})")
        lines.append(text + ": " + ("; ".join(who) or "no waiters"))
        if c.get("error"):
            lines.append(style.error(f"    error: {c['error']}"))
    if len(ordered) > limit:
        lines.append(style.dim(f"  ... and {len(ordered) - limit:,} more (--json lists all)"))
    return lines


def scheduler_lines(scheduler: dict[str, Any], style: Style, limit: int = 16) -> list[str]:
    """Ps by state with their run queues, the global run queue, the GC phase and settings,
    and the memory statistics runtime.ReadMemStats would report; why any is unavailable."""
    ps = scheduler.get("ps") or []
    runq = scheduler.get("runq_global")
    queued = f"{scheduler.get('runq_local', 0):,} on Ps, " + (
        f"{runq:,} global" if isinstance(runq, int) else "global unknown"
    )
    states = _counts(scheduler.get("p_states") or {}) or "no Ps"
    lines = [
        f"  GOMAXPROCS {scheduler.get('gomaxprocs', len(ps))}: {states}; "
        f"runnable goroutines queued: {queued}"
    ]
    # Many Ps: the idle ones with nothing queued say nothing.
    busy = [p for p in ps if p.get("status") != "idle" or p.get("runq")]
    shown = (ps if len(ps) <= limit else busy)[:limit]
    for p in shown:
        held = f"M{p['m']}" if p.get("m") is not None else "no M"
        status = str(p.get("status", "?"))
        lines.append(f"    P{p.get('id')}  {status:<8} {held:<6} runq {p.get('runq', 0)}")
    if len(ps) > len(shown):
        lines.append(style.dim(f"    ... {len(ps) - len(shown):,} more Ps (--json lists all)"))
    gc = scheduler.get("gc") or {}
    stats = scheduler.get("memstats")
    text = f"  GC {gc.get('phase') or 'phase unknown'}"
    if stats:
        text += f", {_plural(int(stats['num_gc']), 'cycle')} completed"
        if stats.get("num_forced_gc"):
            text += f" ({stats['num_forced_gc']:,} forced)"
    percent, memory_limit = gc.get("gc_percent"), gc.get("memory_limit")
    if isinstance(percent, int):
        text += "; GOGC off" if percent < 0 else f"; GOGC {percent}"
    if isinstance(memory_limit, int) and memory_limit < 2**63 - 1:
        text += f"; memory limit {human_bytes(memory_limit)}"
    lines.append(text)
    if stats:
        lines.append(
            f"  heap {human_bytes(stats['heap_inuse'])} in use, {human_bytes(stats['heap_alloc'])} "
            f"allocated in {stats['heap_objects']:,} objects; "
            f"stacks {human_bytes(stats['stack_inuse'])}; {human_bytes(stats['sys'])} from the OS"
        )
    for what, why in (scheduler.get("unavailable") or {}).items():
        lines.append(style.error(f"  {what.replace('_', ' ')} unavailable: {why}"))
    return lines


def blocking_lines(blocking: dict[str, Any], style: Style, limit: int = 20) -> list[str]:
    """Deadlocks and leaks first (what is stuck for good), then the sync objects waited on."""
    lines: list[str] = []
    deadlocks = blocking.get("deadlocks") or []
    leaks = blocking.get("leaks") or []
    unreachable = blocking.get("unreachable")
    if unreachable is not None:
        # Leaks by reachability replace the ones proven from direct references; long waits at
        # crowded sites stay, as what they are.
        leaks = list(unreachable) + [leak for leak in leaks if not leak.get("stuck")]
    lines.append(style.heading(f"Deadlocks ({len(deadlocks):,})"))
    if not deadlocks:
        lines.append("  none found")
    for d in deadlocks:
        ids = d.get("goroutines") or []
        lines.append(
            style.error(f"  {d.get('kind')}: {_plural(len(ids), 'goroutine')} ")
            + style.dim(f"({_ids(ids, 10)})")
        )
        summary = str(d.get("summary") or "")
        detail = summary.split(": ", 1)[1] if ": " in summary else summary
        lines += [f"    {part}" for part in detail.split("; ")[:limit]]
    lines += ["", style.heading(f"Leaks ({len(leaks):,})")]
    if not leaks:
        lines.append("  none found")
    for leak in leaks[:limit]:
        ids = leak.get("goroutines") or []
        lines.append(f"  {leak.get('summary')}")
        lines.append(style.dim(f"    goroutines {_ids(ids, 10)}"))
    if len(leaks) > limit:
        lines.append(style.dim(f"  ... and {len(leaks) - limit:,} more (--json lists all)"))
    objects = [o for o in blocking.get("objects") or [] if o.get("kind") != "channel"]
    lines += ["", style.heading(f"Sync objects waited on ({len(objects):,})")]
    for o in objects[:limit]:
        waiters, holders = o.get("waiters") or [], o.get("holders") or []
        evidence = o.get("holder_evidence") or {}
        text = f"  {o.get('type')} {style.address(hex(int(o.get('addr', 0))))} {o.get('detail')}"
        text += f": {_plural(len(waiters), 'waiter')} ({_ids(waiters)})"
        if holders:
            # A pending deferred unlock names a holder; a stack slot is likelier than a
            # reference through a heap object.
            rank = {"deferred call": 0, "stack": 1, "heap object": 2}
            ordered = sorted(holders, key=lambda h: (rank.get(evidence.get(str(h), ""), 3), h))
            held = ", ".join(f"{h} ({evidence.get(str(h), '?')})" for h in ordered[:5])
            more = f" and {len(ordered) - 5:,} more" if len(ordered) > 5 else ""
            text += f"; referenced by {held}{more}"
        elif o.get("global"):
            text += "; reachable from a global"
        lines.append(text)
    if len(objects) > limit:
        lines.append(style.dim(f"  ... and {len(objects) - limit:,} more (--json lists all)"))
    for note in blocking.get("notes") or []:
        lines.append(style.dim(f"  note: {note}"))
    return lines


def _ids(ids: Sequence[int], shown: int = 5) -> str:
    text = ", ".join(str(i) for i in sorted(ids)[:shown])
    return text + (", ..." if len(ids) > shown else "")


def build_lines(info: dict[str, Any]) -> list[str]:
    """The module and the build settings that matter when reading a core."""
    main = info.get("main") or {}
    path = main.get("path") or info.get("path")
    if not path:
        return []
    text = f"  {path} {main.get('version') or ''}".rstrip()
    settings = dict(tuple(pair) for pair in info.get("settings") or [] if len(pair) == 2)
    wanted = ("-buildmode", "-trimpath", "-ldflags", "CGO_ENABLED", "GOARCH", "vcs.revision")
    shown = [f"{key}={settings[key]}" for key in wanted if settings.get(key)]
    if info.get("pie"):
        shown.append("PIE")
    shown.append(f"DWARF {info.get('dwarf')}" if info.get("dwarf") else "no DWARF")
    if info.get("symbols") is False:
        shown.append("no symbol table")
    return [text, "  " + ", ".join(shown)]


def render_triage(
    info: dict[str, Any],
    threads: Sequence[dict[str, Any]],
    ps: Sequence[dict[str, Any]],
    crash: dict[str, Any] | None,
    groups: Sequence[Group],
    total: int,
    blocking: dict[str, Any],
    style: Style,
    scheduler: dict[str, Any] | None = None,
    crash_defers: Sequence[dict[str, Any]] = (),
    goroutines_error: str | None = None,
) -> str:
    channels: Sequence[dict[str, Any]] = blocking.get("channels") or []
    states: dict[str, int] = {}
    for group in groups:
        for state, n in (group.get("states") or {}).items():
            states[state] = states.get(state, 0) + int(n)
    lines = [
        style.heading("Process"),
        f"  {info.get('go_version') or 'Go ?'}, {_plural(len(threads), 'thread')}, "
        f"GOMAXPROCS {len(ps)}, {_plural(total, 'goroutine')}",
        *build_lines(info),
        *([f"  {_counts(states)}"] if states else []),
    ]
    if goroutines_error:
        lines.append(style.error(f"  error: {goroutines_error}"))
    lines.append("")
    if scheduler is not None:
        lines += [style.heading("Scheduler and memory"), *scheduler_lines(scheduler, style), ""]
    lines.append(style.heading("Crash"))
    lines += ["  " + line for line in render_crash(crash, style).splitlines()]
    if crash_defers:
        lines.append(f"  deferred calls still pending in goroutine {crash.get('goroutine')}:")
        for d in crash_defers:
            where = f" ({d['file']}:{d['line']})" if d.get("file") else ""
            frame = f" in {d['frame']}" if d.get("frame") else ""
            lines.append(f"    {d.get('function')} [{d.get('kind')}]{frame}{where}")
    lines.append("")
    lines += blocking_lines(blocking, style)
    lines += ["", style.heading(f"Channels waited on ({len(channels):,})")]
    lines += channel_lines(channels, style)
    lines += [
        "",
        style.heading(f"Goroutines in {_plural(len(groups), 'group')} of identical stacks"),
    ]
    for number, group in enumerate(groups, 1):
        lines += group_lines(number, group, style)
        lines.append("")
    return "\n".join(lines).rstrip()
