//! Times opening a Go binary and random pc lookups: `goscope-bench BINARY [LOOKUPS]`.
//! Prints one JSON object so bench/ scripts can compare it with other tools.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: goscope-bench BINARY [--lookups N] [--print] [--info] [--frames PC...]");
        std::process::exit(2);
    };
    let mut lookups: usize = 1_000_000;
    let mut print = false;
    let mut info = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--print" => print = true,
            "--info" => info = true,
            "--core" => {
                // Dump the goroutines of a core as JSON (a development aid for the unwinder).
                let core = args.next().unwrap_or_default();
                let t0 = Instant::now();
                match goscope_core::session::Target::open_core(
                    std::path::Path::new(&core),
                    std::path::Path::new(&path),
                ) {
                    Ok(t) => {
                        let t1 = Instant::now();
                        if std::env::var_os("GOSCOPE_BENCH_COUNT").is_some() {
                            let gs = t.runtime().goroutines(true);
                            let frames: usize = gs.iter().map(|g| g.frames.len()).sum();
                            println!(
                                "{{\"goroutines\": {}, \"frames\": {frames}, \"open_ms\": {:.1}, \"decode_ms\": {:.1}}}",
                                gs.len(),
                                t1.duration_since(t0).as_secs_f64() * 1e3,
                                t1.elapsed().as_secs_f64() * 1e3
                            );
                        } else {
                            let stdout = std::io::stdout();
                            let mut w = std::io::BufWriter::new(stdout.lock());
                            if let Err(e) = goscope_core::report::write_goroutines_json(
                                t.runtime(),
                                &mut w,
                                true,
                                &|_| true,
                            ) {
                                eprintln!("goscope-bench: {e}");
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("goscope-bench: {e}");
                        std::process::exit(1);
                    }
                }
                return;
            }
            "--frames" => {
                // Expand the given pcs (hex, one per argument) into innermost-first frames.
                let bin = match goscope_core::Binary::open(std::path::Path::new(&path)) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("goscope-bench: {e}");
                        std::process::exit(1);
                    }
                };
                for a in args.by_ref() {
                    let pc = u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap_or(0);
                    for l in bin.lookup(pc) {
                        println!("{pc:#x} {} {}:{}", l.function, l.file, l.line);
                    }
                }
                return;
            }
            "--lookups" => lookups = args.next().and_then(|s| s.parse().ok()).unwrap_or(lookups),
            _ => {
                eprintln!("goscope-bench: unknown argument {a}");
                std::process::exit(2);
            }
        }
    }
    let t0 = Instant::now();
    let bin = match goscope_core::Binary::open(std::path::Path::new(&path)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("goscope-bench: {e}");
            std::process::exit(1);
        }
    };
    let open_ms = t0.elapsed().as_secs_f64() * 1e3;
    if info {
        println!("{}", serde_json::to_string(&bin.info()).unwrap_or_default());
        return;
    }
    let funcs: Vec<(u64, u64)> = bin.functions().map(|(_, a, b)| (a, b)).collect();
    // A fixed xorshift keeps runs comparable without a dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut pcs = Vec::with_capacity(lookups);
    while pcs.len() < lookups && !funcs.is_empty() {
        let Some(&(entry, end)) = next()
            .checked_rem(funcs.len() as u64)
            .and_then(|i| funcs.get(i as usize))
        else {
            break;
        };
        let span = end.saturating_sub(entry);
        if span > 0 {
            let offset = next().checked_rem(span).unwrap_or(0);
            pcs.push(entry.wrapping_add(offset));
        }
    }
    if print {
        // One "pc function file:line" per lookup, for comparison with `go tool addr2line`.
        for &pc in &pcs {
            match bin.pc_line(pc) {
                Some(l) => println!("{pc:#x} {} {}:{}", l.function, l.file, l.line),
                None => println!("{pc:#x} ? ?:0"),
            }
        }
        return;
    }
    let t1 = Instant::now();
    let mut frames = 0usize;
    for &pc in &pcs {
        frames = frames.saturating_add(bin.lookup(pc).len());
    }
    let lookup_ms = t1.elapsed().as_secs_f64() * 1e3;
    let t2 = Instant::now();
    let mut found = 0usize;
    for &pc in &pcs {
        found = found.saturating_add(usize::from(bin.pc_line(pc).is_some()));
    }
    let pc_line_ms = t2.elapsed().as_secs_f64() * 1e3;
    println!(
        "{{\"binary\": {:?}, \"size\": {}, \"functions\": {}, \"open_ms\": {:.3}, \"lookups\": {}, \"lookup_ms\": {:.1}, \"frames\": {}, \"pc_line_ms\": {:.1}, \"pc_line_found\": {}}}",
        path,
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        funcs.len(),
        open_ms,
        pcs.len(),
        lookup_ms,
        frames,
        pc_line_ms,
        found
    );
}
