//! A program run with a small full-able directory: its own mount namespace (`unshare`, from
//! util-linux) in which a directory is a tmpfs of a given size, so that writes there meet
//! `ENOSPC` (28: No space left on device) as on a full disk, while nothing else on the
//! machine sees the mount; it goes away with the last process of the namespace. Used by the
//! scenario runner (`[proxy] disk_limit`) and by the tests that compare the proxy's full-disk
//! behaviour with nginx's.

use std::path::Path;
use std::process::Command;

/// `cmd` run in its own mount namespace where `dir` (which must exist) is a tmpfs of
/// `bytes` bytes, mode 0777. Where the kernel or the caller's privileges refuse the
/// namespace or the mount, the program does not start (its stderr says why): never a silent
/// run without the limit. The program keeps `cmd`'s pid (`exec`), arguments, environment and
/// working directory.
pub fn in_limited_dir(cmd: Command, dir: &Path, bytes: u64) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "--", "sh", "-c"]);
    c.arg(format!(
        "mount -t tmpfs -o size={bytes},mode=0777 proxylab-limited \"$0\" && exec \"$@\""
    ));
    c.arg(dir).arg(cmd.get_program()).args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_and_its_arguments_follow_the_mount() {
        let mut cmd = Command::new("nginx");
        cmd.args(["-p", "/x"]).env("A", "1");
        let c = in_limited_dir(cmd, Path::new("/x/limited"), 4096);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(c.get_program(), "unshare");
        assert!(args[6].contains("size=4096"), "{args:?}");
        assert_eq!(&args[7..], ["/x/limited", "nginx", "-p", "/x"]);
        assert!(
            c.get_envs()
                .any(|(k, v)| k == "A" && v.is_some_and(|v| v == "1"))
        );
    }
}
