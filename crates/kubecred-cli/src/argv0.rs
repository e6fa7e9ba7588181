//! The credential-helper front doors are run by program name (`docker-credential-kubecred`,
//! `git-credential-kubecred`, symlinks to this binary): their argv becomes the subcommand's.

use std::ffi::OsString;
use std::path::Path;

/// `args`, rewritten to `kubecred SUBCOMMAND ARGS...` when `argv[0]`'s file name is `program`;
/// unchanged otherwise.
pub fn rewrite(mut args: Vec<OsString>, program: &str, subcommand: &str) -> Vec<OsString> {
    let invoked_as = args
        .first()
        .and_then(|first| Path::new(first).file_stem())
        .is_some_and(|name| name == program);
    if invoked_as {
        args.splice(
            0..1,
            [OsString::from("kubecred"), OsString::from(subcommand)],
        );
    }
    args
}
