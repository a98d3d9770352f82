//! C revisions: bindings generated in-process by wit-bindgen's C generator,
//! compiled by clang against Debian's wasi-libc as a reactor, and encoded as
//! a component with no WASI adapter. libc calls that would reach the
//! operating system land in [`SHIM`], which answers "nothing here" and logs
//! the attempt, so a C component imports only the project's interfaces.

use crate::build::encode::encode;
use crate::build::tool::{Tool, ToolchainError, WIT, WORLD, io, run, work_dir, write_if_changed};
use std::path::{Path, PathBuf};
use std::process::Command;

const CLANG: Tool = Tool {
    language: "C",
    install: "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32 (or set CC to a clang with a wasm32-wasi sysroot)",
};

/// Local definitions of the WASI preview1 functions wasi-libc calls. Linking
/// them into the module keeps WASI out of the component's imports; each one
/// gives the guest nothing (no environment, no preopened directory, no
/// arguments), keeps clocks and random numbers deterministic, sends
/// stdout/stderr to the host's log, and logs every attempt to reach the
/// environment or the file system.
pub const SHIM: &str = include_str!("c_shim.c");

/// The C SDK: helpers over the generated bindings (see docs/authoring-c.md).
pub const SDK: &str = include_str!("pgwasm.h");

/// The header revisions include.
pub const HEADER: &str = "migration.h";

/// Generates the C bindings (`migration.h`, `migration.c`,
/// `migration_component_type.o`) and the WASI shim into
/// `<project>/.host/build/c`; returns that folder.
pub fn write_bindings(project: &Path) -> Result<PathBuf, ToolchainError> {
    let dir = work_dir(project, "c")?;
    let mut resolve = wit_bindgen_core::wit_parser::Resolve::default();
    let pkg = resolve
        .push_str("migration.wit", WIT)
        .map_err(|e| ToolchainError::Bindings(format!("{e:#}")))?;
    let world = resolve
        .select_world(&[pkg], Some(WORLD))
        .map_err(|e| ToolchainError::Bindings(format!("{e:#}")))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| ToolchainError::Bindings(format!("{e:#}")))?;
    for (name, bytes) in files.iter() {
        write_if_changed(&dir.join(name), bytes)?;
    }
    write_if_changed(&dir.join("pgwasm_wasi_shim.c"), SHIM.as_bytes())?;
    write_if_changed(&dir.join("pgwasm.h"), SDK.as_bytes())?;
    Ok(dir)
}

/// The C compiler: `$CC` if set, else `clang`.
fn compiler() -> String {
    std::env::var("CC")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "clang".into())
}

/// Where wasi-libc is: `$WASI_SYSROOT` (e.g. wasi-sdk's `share/wasi-sysroot`),
/// else Debian's `/usr` (headers in `include/wasm32-wasi`, libraries in
/// `lib/wasm32-wasi`: the same layout under both).
fn sysroot() -> String {
    std::env::var("WASI_SYSROOT")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/usr".into())
}

/// clang's own headers folder (stddef.h, stdint.h for wasm32).
fn resource_dir(revision: &str, cc: &str) -> Result<String, ToolchainError> {
    let out = Command::new(cc)
        .arg("-print-resource-dir")
        .output()
        .map_err(|e| CLANG.missing(revision, cc, e.to_string()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The `.c` files of a revision folder, sorted so the link order is stable.
fn sources(folder: &Path) -> Result<Vec<PathBuf>, ToolchainError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(io(folder))? {
        let path = entry.map_err(io(folder))?.path();
        if path.extension().is_some_and(|e| e == "c") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Compiles a C revision folder and encodes it as a component.
pub fn build(project: &Path, dir: &str) -> Result<Vec<u8>, ToolchainError> {
    let bindings = write_bindings(project)?;
    let out_dir = work_dir(project, dir)?;
    let core = out_dir.join("core.wasm");
    let cc = compiler();
    let resource = resource_dir(dir, &cc)?;
    let sysroot = sysroot();
    let root = project.canonicalize().map_err(io(project))?;
    let mut cmd = Command::new(&cc);
    cmd.current_dir(&root)
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-std=c11",
            "-Wall",
            "-Werror=implicit-function-declaration",
            // Debian's clang also searches the build machine's /usr/include.
            "-nostdinc",
        ])
        .arg(format!("-isystem{resource}/include"))
        .arg(format!("-isystem{sysroot}/include/wasm32-wasi"))
        .arg(format!("--sysroot={sysroot}"))
        // Paths of this checkout must not reach the bytes (assert messages).
        .arg(format!("-ffile-prefix-map={}=.", root.display()))
        .arg(format!("-I{}", bindings.display()))
        .args(sources(&root.join(dir))?)
        .arg(bindings.join("migration.c"))
        .arg(bindings.join("pgwasm_wasi_shim.c"))
        .arg(bindings.join("migration_component_type.o"))
        .args([
            "-Wl,--wrap=__wasilibc_find_relpath",
            "-Wl,--strip-all",
            "-o",
        ])
        .arg(&core);
    run(dir, &CLANG, &mut cmd)?;
    let bytes = std::fs::read(&core).map_err(io(&core))?;
    encode(&bytes).map_err(|detail| ToolchainError::Encode {
        revision: dir.into(),
        detail,
    })
}

/// What a C component is built with besides its own sources: the bindings
/// generator, the WASI shim and the SDK header.
pub fn version() -> String {
    format!("wit-bindgen-c 0.61.1\n{SHIM}\n{SDK}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_generated() {
        let root = std::env::temp_dir().join(format!("c-bindings-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let dir = super::write_bindings(&root).unwrap();
        let header = std::fs::read_to_string(dir.join(super::HEADER)).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(header.contains("exports_migration_upgrade"), "{header}");
    }
}
