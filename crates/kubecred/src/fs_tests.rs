use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::Duration;

use super::*;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn mode(path: &Path) -> std::io::Result<u32> {
    std::fs::symlink_metadata(path).map(|m| m.mode() & 0o777)
}

fn names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    Ok(names)
}

#[test]
fn writes_a_private_file_and_leaves_no_temporary() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config");
    std::fs::write(&path, "old")?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
    write_private(&path, b"new")?;
    assert_eq!(std::fs::read_to_string(&path)?, "new");
    assert_eq!(
        mode(&path)?,
        0o600,
        "a world-readable target is replaced 0600"
    );
    assert_eq!(names(dir.path())?, ["config"]);
    Ok(())
}

#[test]
fn a_symlink_at_the_target_is_replaced_not_followed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious")?;
    let path = dir.path().join("config");
    symlink(&victim, &path)?;
    write_private(&path, b"new")?;
    assert_eq!(std::fs::read_to_string(&victim)?, "precious");
    assert!(std::fs::symlink_metadata(&path)?.is_file());
    assert_eq!(std::fs::read_to_string(&path)?, "new");
    Ok(())
}

#[test]
fn temporary_names_are_never_reused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious")?;
    // A planted symlink and a pre-created world-writable file at a candidate name: creating the
    // temporary file there fails instead of writing through either.
    let link = dir.path().join("link.tmp");
    symlink(&victim, &link)?;
    let planted = dir.path().join("planted.tmp");
    std::fs::write(&planted, "")?;
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666))?;
    let refused = |path: &Path| {
        create_new_private(path).is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
    };
    assert!(refused(&link));
    assert!(refused(&planted));
    assert_eq!(std::fs::read_to_string(&victim)?, "precious");
    // A dangling symlink is not created through either.
    let dangling = dir.path().join("dangling.tmp");
    symlink(dir.path().join("absent"), &dangling)?;
    assert!(refused(&dangling));
    assert!(!dir.path().join("absent").exists());
    Ok(())
}

#[test]
fn a_failed_write_removes_its_temporary_and_names_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A non-empty directory at the target: the rename fails.
    let path = dir.path().join("config");
    std::fs::create_dir(&path)?;
    std::fs::write(path.join("inside"), "")?;
    let error = write_private(&path, b"new")
        .err()
        .ok_or("the write succeeded")?;
    assert!(error.to_string().contains("config"), "{error}");
    assert_eq!(names(dir.path())?, ["config"], "no temporary left");
    let missing = dir.path().join("missing").join("config");
    let error = write_private(&missing, b"x").err().ok_or("written")?;
    assert!(error.is_not_found(), "{error}");
    assert!(error.to_string().contains("missing/config"), "{error}");
    Ok(())
}

#[test]
fn a_bare_file_name_is_written_in_the_current_directory() -> TestResult {
    assert!(split(Path::new("config")).is_ok_and(|(dir, _)| dir == Path::new(".")));
    assert!(split(Path::new("/")).is_err());
    Ok(())
}

#[test]
fn reads_only_private_regular_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("entry");
    write_private(&path, b"content")?;
    assert_eq!(read_private(&path, 64)?, b"content");
    let too_small = read_private(&path, 3).err().ok_or("read")?;
    assert!(
        too_small.to_string().contains("larger than 3 bytes"),
        "{too_small}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
    let shared = read_private(&path, 64).err().ok_or("read")?;
    assert!(shared.to_string().contains("mode 0640"), "{shared}");
    let absent = read_private(&dir.path().join("absent"), 64)
        .err()
        .ok_or("read")?;
    assert!(absent.is_not_found(), "{absent}");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub)?;
    let directory = read_private(&sub, 64).err().ok_or("read")?;
    assert!(
        directory.to_string().contains("not a regular file"),
        "{directory}"
    );
    Ok(())
}

#[test]
fn symlinks_are_refused_even_to_a_private_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("target");
    write_private(&target, b"content")?;
    let link = dir.path().join("link");
    symlink(&target, &link)?;
    let error = read_private(&link, 64)
        .err()
        .ok_or("read through a symlink")?;
    assert!(error.to_string().contains("symbolic link"), "{error}");
    Ok(())
}

/// `read_private` on `path` in a thread: its result, or an error if it took more than 5 s.
fn read_with_deadline(path: &Path) -> std::result::Result<Result<Vec<u8>>, &'static str> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || sender.send(read_private(&path, 64)));
    receiver
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "read_private blocked on a FIFO")
}

#[test]
fn a_fifo_or_a_symlink_to_one_neither_blocks_nor_is_read() -> TestResult {
    let dir = tempfile::tempdir()?;
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success(), "mkfifo failed");
    let error = read_with_deadline(&fifo)?.err().ok_or("read a FIFO")?;
    assert!(error.to_string().contains("not a regular file"), "{error}");
    let link = dir.path().join("link");
    symlink(&fifo, &link)?;
    let error = read_with_deadline(&link)?.err().ok_or("read a FIFO")?;
    assert!(error.to_string().contains("symbolic link"), "{error}");
    Ok(())
}

#[test]
fn private_directories_are_created_fixed_and_checked() -> TestResult {
    let base = tempfile::tempdir()?;
    let dir = base.path().join("a").join("kubecred");
    private_dir(&dir)?;
    assert_eq!(mode(&dir)?, 0o700);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    private_dir(&dir)?;
    assert_eq!(mode(&dir)?, 0o700, "fixed");
    let link = base.path().join("link");
    symlink(&dir, &link)?;
    let error = private_dir(&link).err().ok_or("a symlink was accepted")?;
    assert!(
        error
            .to_string()
            .contains("not a directory of the current user"),
        "{error}"
    );
    Ok(())
}
