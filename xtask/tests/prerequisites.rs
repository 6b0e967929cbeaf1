//! `cargo xtask test` on a machine that lacks its tools and cannot install
//! them (here: a `PATH` without them, and without `apt-get`): one message
//! naming every missing piece and its package, before anything is built or
//! started.

use std::process::Command;

#[test]
fn without_its_tools_and_a_way_to_install_them_the_test_task_names_them_all_before_building_anything() {
    let empty = std::env::temp_dir().join(format!("sesame-xtask-no-tools-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("test").env("PATH", &empty).output().expect("run xtask");
    std::fs::remove_dir_all(&empty).unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("these tools are missing, and this user cannot install them"), "{said}");
    for (tool, package) in [
        ("cc", "gcc"),
        ("psql", "postgresql-client"),
        ("redis-server", "redis-server"),
        ("redis-cli", "redis-tools"),
        ("openssl", "openssl"),
        ("npm", "npm"),
    ] {
        assert!(said.contains(&format!("  - {tool}: apt-get install {package}\n")), "{tool}: {said}");
    }
    assert!(said.contains("install them all with:\n  sudo apt-get update && sudo apt-get install"), "{said}");
    assert!(!said.contains("\n$ ") && !said.starts_with("$ "), "nothing was run, built or started: {said}");
    assert_eq!(said.matches("these tools are missing").count(), 1, "one message: {said}");
}
