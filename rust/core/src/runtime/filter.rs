//! Which goroutines a listing shows: the filters of `go goroutines` and `goscope goroutines`,
//! applied while goroutines stream out so that a filtered listing of a huge core stays cheap.

use super::goroutine::state_text;
use super::goroutine::Frame;
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

/// The import path of a function's package (type arguments may hold dots and slashes).
pub fn package_of(function: &str) -> &str {
    let name = function.split('[').next().unwrap_or(function);
    let after_slash = name.rfind('/').map_or(0, |i| i.saturating_add(1));
    match name.get(after_slash..).and_then(|rest| rest.find('.')) {
        Some(dot) => name.get(..after_slash.saturating_add(dot)).unwrap_or(name),
        None => name,
    }
}

/// Whether a function belongs to the Go runtime itself (not `runtime/pprof` and the like).
pub fn is_runtime_function(function: &str) -> bool {
    let p = package_of(function);
    p == "runtime" || p.starts_with("runtime/internal/") || p.starts_with("internal/runtime/")
}

/// Which functions are the program's own: package `main` and the packages of the modules
/// the binary's build information lists (the main module and its dependencies). Without
/// module paths, any package whose first path element has a dot (a module path such as
/// `github.com/...`) counts, as the standard library has none.
#[derive(Debug, Clone, Default)]
pub struct UserCode {
    /// Longest first, so the most specific module decides.
    paths: Vec<String>,
}

impl UserCode {
    pub fn new(paths: impl IntoIterator<Item = String>) -> UserCode {
        let mut paths: Vec<String> = paths.into_iter().filter(|p| !p.is_empty()).collect();
        paths.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        paths.dedup();
        UserCode { paths }
    }

    /// The program's own code by the binary's build information: its package path, main
    /// module and dependencies (no paths, and so the module-path guess, without it).
    pub fn of_binary(binary: &crate::binary::Binary) -> UserCode {
        let Ok(info) = binary.build_info() else {
            return UserCode::default();
        };
        UserCode::new(
            std::iter::once(info.path.clone())
                .chain(info.main.iter().map(|m| m.path.clone()))
                .chain(info.deps.iter().map(|m| m.path.clone())),
        )
    }

    pub fn is_user(&self, function: &str) -> bool {
        let package = package_of(function);
        if package == "main" || package.starts_with("main.") {
            return true;
        }
        if is_runtime_function(function) {
            return false;
        }
        if !self.paths.is_empty() {
            return self.paths.iter().any(|p| {
                package == p
                    || package
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            });
        }
        package
            .split('/')
            .next()
            .is_some_and(|first| first.contains('.'))
    }

    /// The frame that best says where a goroutine is: its innermost frame in the program's
    /// own code, else its innermost frame outside the runtime, else its innermost frame.
    pub fn where_frame<'a>(&self, g: &'a Goroutine) -> Option<&'a Frame> {
        g.frames.get(self.where_index(&g.frames)?)
    }

    /// [`UserCode::where_frame`] of a stack, as an index into it.
    pub fn where_index(&self, frames: &[Frame]) -> Option<usize> {
        frames
            .iter()
            .position(|f| self.is_user(&f.function))
            .or_else(|| {
                frames
                    .iter()
                    .position(|f| !is_runtime_function(&f.function))
            })
            .or_else(|| (!frames.is_empty()).then_some(0))
    }
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

    #[test]
    fn user_code() {
        let user = UserCode::new(["example.com/app".to_string()]);
        assert!(user.is_user("main.main"));
        assert!(user.is_user("example.com/app/db.Open"));
        assert!(!user.is_user("example.com/application.F"));
        assert!(!user.is_user("net/http.(*Server).Serve"));
        let guess = UserCode::new([]);
        assert!(guess.is_user("github.com/a/b.F"));
        assert!(!guess.is_user("fmt.Println"));
    }
}
