//! Which goroutines a listing shows: the filters of `go goroutines` and `goscope goroutines`,
//! applied while goroutines stream out so that a filtered listing of a huge core stays cheap.

use super::Goroutine;

/// Empty filters keep every goroutine; set ones must all match.
#[derive(Debug, Clone, Default)]
pub struct GoroutineFilter {
    /// Status, wait reason or header state contains this (case-insensitive).
    pub state: Option<String>,
    /// The wait reason is exactly this (case-insensitive).
    pub wait_reason: Option<String>,
    /// Some frame's function name contains this.
    pub function: Option<String>,
    /// At least one frame lies outside the Go runtime.
    pub user: bool,
}

impl GoroutineFilter {
    pub fn matches(&self, g: &Goroutine) -> bool {
        if let Some(want) = &self.state {
            let want = want.to_lowercase();
            let texts = [
                Some(g.status.clone()),
                g.wait_reason.clone(),
                Some(state_text(g)),
            ];
            if !texts
                .iter()
                .flatten()
                .any(|t| t.to_lowercase().contains(&want))
            {
                return false;
            }
        }
        if let Some(want) = &self.wait_reason {
            if !g
                .wait_reason
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(want))
            {
                return false;
            }
        }
        if let Some(want) = &self.function {
            if !g.frames.iter().any(|f| f.function.contains(want.as_str())) {
                return false;
            }
        }
        if self.user && !g.frames.iter().any(|f| !is_runtime_function(&f.function)) {
            return false;
        }
        true
    }
}

/// What the runtime prints between the brackets of a goroutine header.
pub fn state_text(g: &Goroutine) -> String {
    let mut s = g.wait_reason.clone().unwrap_or_else(|| g.status.clone());
    if let Some(m) = g.wait_minutes.filter(|&m| m >= 1) {
        s.push_str(&format!(", {m} minutes"));
    }
    if g.locked_to_thread {
        s.push_str(", locked to thread");
    }
    s
}

/// The import path of a function's package (type arguments may hold dots and slashes).
pub fn package_of(function: &str) -> &str {
    let name = function.split('[').next().unwrap_or(function);
    let after_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name.get(after_slash..).and_then(|rest| rest.find('.')) {
        Some(dot) => name.get(..after_slash + dot).unwrap_or(name),
        None => name,
    }
}

/// Whether a function belongs to the Go runtime itself (not `runtime/pprof` and the like).
pub fn is_runtime_function(function: &str) -> bool {
    let p = package_of(function);
    p == "runtime" || p.starts_with("runtime/internal/") || p.starts_with("internal/runtime/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages() {
        assert_eq!(package_of("main.(*T).m"), "main");
        assert_eq!(package_of("github.com/a/b.F[...]"), "github.com/a/b");
        assert_eq!(package_of("runtime/pprof.Do"), "runtime/pprof");
        assert!(is_runtime_function("runtime.gopark"));
        assert!(is_runtime_function("internal/runtime/maps.(*Map).Get"));
        assert!(!is_runtime_function("runtime/pprof.Do"));
        assert!(!is_runtime_function("main.main"));
    }
}
