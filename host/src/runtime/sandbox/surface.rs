//! A component's import/export surface, read without compiling it, and the
//! refusal of imports outside the policy in [`crate::imports`], with a hint.

use std::collections::BTreeSet;

use super::SandboxError;

/// What a component imports and exports at its top level.
pub(super) struct Surface {
    pub(super) imports: Vec<String>,
    pub(super) exports: Vec<String>,
}

/// Reads a component's top-level imports and exports without compiling it.
pub(super) fn component_surface(bytes: &[u8]) -> Result<Surface, String> {
    let mut surface = Surface {
        imports: Vec::new(),
        exports: Vec::new(),
    };
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::Version {
                encoding: wasmparser::Encoding::Module,
                ..
            } if depth == 0 => {
                return Err(
                    "attempted to parse a wasm module with a component parser: this is a core module, which `host build` turns into a component".into(),
                );
            }
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => break,
            },
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let import = import.map_err(|e| e.to_string())?;
                    // A type import (a world's `use`) brings no behaviour; wasmtime
                    // does not list it among the imports either.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        surface.imports.push(import.name.name.to_string());
                    }
                }
            }
            wasmparser::Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|e| e.to_string())?;
                    surface.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(surface)
}

/// Refuses imports outside the project's world and the harmless WASI, unless granted.
pub(super) fn refuse_imports(
    revision: &str,
    imports: &[String],
    granted: &BTreeSet<String>,
) -> Result<(), SandboxError> {
    let refused = crate::imports::refused(imports.iter().map(String::as_str), granted);
    if refused.is_empty() {
        return Ok(());
    }
    let hint = if refused
        .iter()
        .any(|i| crate::imports::GRANTABLE.iter().any(|g| i.starts_with(g)))
    {
        "the sandbox gives no files and no network; if the toolchain only links these interfaces and the revision does not use them, grant them in host.toml ([revisions.<id>] grant = [\"wasi:filesystem\"])"
    } else if refused.iter().any(|i| i.starts_with("pgwasm:")) {
        "it was built against another version of the WIT package; rebuild it against this host's wit/ with `host build`"
    } else {
        "only pgwasm:migration and the wasi:cli/io/clocks/random interfaces are available"
    };
    Err(SandboxError::Imports {
        revision: revision.to_string(),
        imports: refused,
        hint,
    })
}
