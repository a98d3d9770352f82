//! What instantiating a component will create, read from its bytes before
//! it is compiled or run: its core instances, their memories and tables,
//! and what their state costs the host, for the budget in `budget.rs`.
//!
//! Wasmtime instantiates every core instance of a component, nested
//! components' included, when the component is instantiated; so they are
//! counted here by walking the component's index spaces of modules and
//! components the way the binary format builds them.

/// What instantiating a module or component creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Instances {
    /// Core instances.
    pub(super) count: u64,
    /// Linear memories they define.
    pub(super) memories: u64,
    /// Tables they define.
    pub(super) tables: u64,
    /// Host bytes of their instance state (see [`instance_bytes`]).
    pub(super) bytes: u64,
}

impl Instances {
    fn add(&mut self, other: Instances) {
        self.count = self.count.saturating_add(other.count);
        self.memories = self.memories.saturating_add(other.memories);
        self.tables = self.tables.saturating_add(other.tables);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// What instantiating a component creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Shape {
    /// What one instantiation of the component creates.
    pub(super) instances: Instances,
    /// The component instantiates a component it does not define (one it
    /// imports or takes from an instance), so what that creates is unknown.
    pub(super) opaque: bool,
}

/// Host bytes of one core instance's state besides its memories and tables:
/// wasmtime's `VMContext` holds a slot for every global (16 bytes, its
/// value) and for every function (a 32-byte `VMFuncRef`), table, memory,
/// tag, segment and import (up to four pointers), next to the instance's
/// own bookkeeping. Measured: an instance of a module of a million globals
/// costs the host 17 MiB. Each slot but a global's is counted as 32 bytes
/// and the bookkeeping as 4 KiB, so that the estimate stays an upper bound.
pub(super) fn instance_bytes(module: &ModuleCounts) -> u64 {
    const SLOT: u64 = 32;
    const GLOBAL: u64 = 16;
    const BOOKKEEPING: u64 = 4 << 10;
    let slots = module
        .imports
        .saturating_add(module.functions)
        .saturating_add(module.tables)
        .saturating_add(module.memories)
        .saturating_add(module.tags)
        .saturating_add(module.segments);
    BOOKKEEPING
        .saturating_add(slots.saturating_mul(SLOT))
        .saturating_add(module.globals.saturating_mul(GLOBAL))
}

/// Entities a core module defines or imports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ModuleCounts {
    imports: u64,
    functions: u64,
    globals: u64,
    tables: u64,
    memories: u64,
    tags: u64,
    segments: u64,
}

impl ModuleCounts {
    fn instances(&self) -> Instances {
        Instances {
            count: 1,
            memories: self.memories,
            tables: self.tables,
            bytes: instance_bytes(self),
        }
    }
}

/// One component being read: what its module and component index spaces
/// hold, as what instantiating each creates, and what its own
/// instantiations so far create.
#[derive(Default)]
struct Scope {
    modules: Vec<Instances>,
    /// `None` for a component not defined in the file.
    components: Vec<Option<Instances>>,
    creates: Instances,
}

enum Frame {
    Component(Scope),
    Module(ModuleCounts),
}

/// Reads a component's shape without compiling or validating it (a
/// malformed component fails here or in validation, either way before it
/// is compiled).
pub(super) fn component_shape(bytes: &[u8]) -> Result<Shape, String> {
    // A module a component imports, or takes from an instance's exports, is
    // one of the modules defined somewhere in the file (the top level may
    // import none), so the costliest of them bounds it. Found by a first pass.
    let mut costliest = Instances::default();
    walk(bytes, Instances::default(), &mut |m| {
        let i = m.instances();
        if i.bytes > costliest.bytes {
            costliest.bytes = i.bytes;
        }
        costliest.count = 1;
        costliest.memories = costliest.memories.max(i.memories);
        costliest.tables = costliest.tables.max(i.tables);
    })
    .map(|_| ())?;
    walk(bytes, costliest, &mut |_| {})
}

fn walk(
    bytes: &[u8],
    unknown_module: Instances,
    on_module: &mut dyn FnMut(&ModuleCounts),
) -> Result<Shape, String> {
    use wasmparser::{
        ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind,
        ComponentTypeRef, Encoding, Instance, Payload,
    };
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    let mut shape = Shape::default();
    let mut stack: Vec<Frame> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(err)?;
        match (&payload, stack.last_mut()) {
            (Payload::Version { encoding, .. }, None) => match encoding {
                Encoding::Component => stack.push(Frame::Component(Scope::default())),
                Encoding::Module => {
                    return Err("a core module, not a component".to_string());
                }
            },
            (Payload::ModuleSection { .. }, _) => {
                stack.push(Frame::Module(ModuleCounts::default()))
            }
            (Payload::ComponentSection { .. }, _) => stack.push(Frame::Component(Scope::default())),
            (Payload::Version { .. }, Some(_)) => {}
            (Payload::End(_), _) => match stack.pop() {
                Some(Frame::Module(m)) => {
                    on_module(&m);
                    if let Some(Frame::Component(parent)) = stack.last_mut() {
                        parent.modules.push(m.instances());
                    }
                }
                Some(Frame::Component(scope)) => match stack.last_mut() {
                    Some(Frame::Component(parent)) => parent.components.push(Some(scope.creates)),
                    _ => {
                        shape.instances = scope.creates;
                        return Ok(shape);
                    }
                },
                None => break,
            },

            // Inside a core module: what its instances will hold.
            (Payload::ImportSection(s), Some(Frame::Module(m))) => {
                for import in s.clone().into_imports() {
                    import.map_err(err)?;
                    m.imports += 1;
                }
            }
            (Payload::FunctionSection(s), Some(Frame::Module(m))) => {
                m.functions += u64::from(s.count())
            }
            (Payload::GlobalSection(s), Some(Frame::Module(m))) => {
                m.globals += u64::from(s.count())
            }
            (Payload::TableSection(s), Some(Frame::Module(m))) => m.tables += u64::from(s.count()),
            (Payload::MemorySection(s), Some(Frame::Module(m))) => {
                m.memories += u64::from(s.count())
            }
            (Payload::TagSection(s), Some(Frame::Module(m))) => m.tags += u64::from(s.count()),
            (Payload::ElementSection(s), Some(Frame::Module(m))) => {
                m.segments += u64::from(s.count())
            }
            (Payload::DataSection(s), Some(Frame::Module(m))) => m.segments += u64::from(s.count()),

            // Inside a component: its index spaces of modules and
            // components, and what it instantiates.
            (Payload::InstanceSection(s), Some(Frame::Component(scope))) => {
                for instance in s.clone() {
                    if let Instance::Instantiate { module_index, .. } = instance.map_err(err)? {
                        let creates = scope
                            .modules
                            .get(module_index as usize)
                            .copied()
                            .unwrap_or(unknown_module);
                        scope.creates.add(creates);
                    }
                }
            }
            (Payload::ComponentInstanceSection(s), Some(Frame::Component(scope))) => {
                for instance in s.clone() {
                    if let ComponentInstance::Instantiate {
                        component_index, ..
                    } = instance.map_err(err)?
                    {
                        match scope.components.get(component_index as usize) {
                            Some(Some(creates)) => {
                                let creates = *creates;
                                scope.creates.add(creates);
                            }
                            _ => shape.opaque = true,
                        }
                    }
                }
            }
            (Payload::ComponentAliasSection(s), Some(Frame::Component(_))) => {
                for alias in s.clone() {
                    let alias = alias.map_err(err)?;
                    let depth = stack.len();
                    let outer = |count: u32| match depth.checked_sub(1 + count as usize) {
                        Some(at) => match &stack[at] {
                            Frame::Component(s) => Some(s),
                            Frame::Module(_) => None,
                        },
                        None => None,
                    };
                    let entry = match alias {
                        ComponentAlias::Outer {
                            kind: ComponentOuterAliasKind::CoreModule,
                            count,
                            index,
                        } => Entry::Module(
                            outer(count).and_then(|s| s.modules.get(index as usize).copied()),
                        ),
                        ComponentAlias::Outer {
                            kind: ComponentOuterAliasKind::Component,
                            count,
                            index,
                        } => Entry::Component(
                            outer(count)
                                .and_then(|s| s.components.get(index as usize).copied())
                                .flatten(),
                        ),
                        ComponentAlias::InstanceExport {
                            kind: ComponentExternalKind::Module,
                            ..
                        } => Entry::Module(None),
                        ComponentAlias::InstanceExport {
                            kind: ComponentExternalKind::Component,
                            ..
                        } => Entry::Component(None),
                        _ => continue,
                    };
                    let Some(Frame::Component(scope)) = stack.last_mut() else {
                        unreachable!("matched a component frame above")
                    };
                    entry.push(scope, unknown_module);
                }
            }
            (Payload::ComponentImportSection(s), Some(Frame::Component(scope))) => {
                for import in s.clone() {
                    match import.map_err(err)?.ty {
                        ComponentTypeRef::Module(_) => {
                            Entry::Module(None).push(scope, unknown_module)
                        }
                        ComponentTypeRef::Component(_) => {
                            Entry::Component(None).push(scope, unknown_module)
                        }
                        _ => {}
                    }
                }
            }
            (Payload::ComponentExportSection(s), Some(Frame::Component(scope))) => {
                // An export adds the exported item to its index space again.
                for export in s.clone() {
                    let export = export.map_err(err)?;
                    let index = export.index as usize;
                    match export.kind {
                        ComponentExternalKind::Module => {
                            Entry::Module(scope.modules.get(index).copied())
                                .push(scope, unknown_module)
                        }
                        ComponentExternalKind::Component => {
                            Entry::Component(scope.components.get(index).copied().flatten())
                                .push(scope, unknown_module)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Err("the component ends early".to_string())
}

/// A new entry of a component's module or component index space, with
/// what instantiating it creates when the file tells.
enum Entry {
    Module(Option<Instances>),
    Component(Option<Instances>),
}

impl Entry {
    fn push(self, scope: &mut Scope, unknown_module: Instances) {
        match self {
            Entry::Module(m) => scope.modules.push(m.unwrap_or(unknown_module)),
            Entry::Component(c) => scope.components.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
    use super::*;
    use wasm_encoder::{
        Alias, Component, ComponentAliasSection, ComponentImportSection, ComponentInstanceSection,
        ComponentOuterAliasKind, ComponentTypeRef, ComponentTypeSection, ConstExpr,
        CoreTypeSection, GlobalSection, GlobalType, InstanceSection, MemorySection, MemoryType,
        Module, ModuleArg, ModuleSection, ModuleType, NestedComponentSection, ValType,
    };

    /// A module of `globals` globals and `memories` one-page memories.
    fn module(globals: u32, memories: u32) -> Module {
        let mut m = Module::new();
        let mut mems = MemorySection::new();
        for _ in 0..memories {
            mems.memory(MemoryType {
                minimum: 1,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            });
        }
        m.section(&mems);
        let mut g = GlobalSection::new();
        for _ in 0..globals {
            g.global(
                GlobalType {
                    val_type: ValType::I32,
                    mutable: true,
                    shared: false,
                },
                &ConstExpr::i32_const(0),
            );
        }
        m.section(&g);
        m
    }

    fn counts(globals: u64, memories: u64) -> Instances {
        ModuleCounts {
            globals,
            memories,
            ..ModuleCounts::default()
        }
        .instances()
    }

    fn instantiate(modules: &[u32]) -> InstanceSection {
        let mut s = InstanceSection::new();
        for m in modules {
            s.instantiate(*m, Vec::<(&str, ModuleArg)>::new());
        }
        s
    }

    fn shape(c: &Component) -> Shape {
        component_shape(&c.clone().finish()).unwrap()
    }

    fn times(i: Instances, n: u64) -> Instances {
        let mut total = Instances::default();
        for _ in 0..n {
            total.add(i);
        }
        total
    }

    #[test]
    fn each_instantiation_of_a_module_counts() {
        let mut c = Component::new();
        c.section(&ModuleSection(&module(1000, 1)));
        c.section(&ModuleSection(&module(10, 0)));
        c.section(&instantiate(&[0, 0, 1]));
        // A bag of exports is no instance of its own.
        let mut bag = InstanceSection::new();
        bag.export_items(Vec::<(&str, wasm_encoder::ExportKind, u32)>::new());
        c.section(&bag);
        let s = shape(&c);
        let mut want = times(counts(1000, 1), 2);
        want.add(counts(10, 0));
        assert_eq!(s.instances, want);
        assert_eq!((s.instances.count, s.instances.memories), (3, 2));
        assert!(!s.opaque);
    }

    #[test]
    fn an_instance_is_charged_for_its_globals_and_bookkeeping() {
        assert_eq!(counts(1_000_000, 0).bytes, 16_000_000 + 4096);
        assert_eq!(counts(0, 2).bytes, 64 + 4096);
    }

    #[test]
    fn a_nested_component_counts_each_time_it_is_instantiated() {
        let mut inner = Component::new();
        inner.section(&ModuleSection(&module(100, 1)));
        inner.section(&instantiate(&[0, 0]));
        let mut c = Component::new();
        c.section(&NestedComponentSection(&inner));
        let mut instances = ComponentInstanceSection::new();
        for _ in 0..3 {
            instances.instantiate(
                0,
                Vec::<(&str, wasm_encoder::ComponentExportKind, u32)>::new(),
            );
        }
        c.section(&instances);
        assert_eq!(shape(&c).instances, times(counts(100, 1), 6));
    }

    #[test]
    fn an_outer_alias_brings_the_outer_module() {
        let mut inner = Component::new();
        let mut alias = ComponentAliasSection::new();
        alias.alias(Alias::Outer {
            kind: ComponentOuterAliasKind::CoreModule,
            count: 1,
            index: 0,
        });
        inner.section(&alias);
        inner.section(&instantiate(&[0]));
        let mut c = Component::new();
        c.section(&ModuleSection(&module(3, 0)));
        c.section(&ModuleSection(&module(5000, 0)));
        c.section(&NestedComponentSection(&inner));
        let mut instances = ComponentInstanceSection::new();
        instances.instantiate(
            0,
            Vec::<(&str, wasm_encoder::ComponentExportKind, u32)>::new(),
        );
        c.section(&instances);
        // The module aliased, not the costliest one.
        assert_eq!(shape(&c).instances, counts(3, 0));
    }

    #[test]
    fn an_imported_module_counts_as_the_costliest_in_the_file() {
        // The inner component instantiates whatever module it is given; the
        // outer one gives it the small module, but the walk cannot know that.
        let mut inner = Component::new();
        let mut types = CoreTypeSection::new();
        types.ty().module(&ModuleType::new());
        inner.section(&types);
        let mut imports = ComponentImportSection::new();
        imports.import("m", ComponentTypeRef::Module(0));
        inner.section(&imports);
        inner.section(&instantiate(&[0]));
        let mut c = Component::new();
        c.section(&ModuleSection(&module(1, 0)));
        c.section(&NestedComponentSection(&inner));
        c.section(&ModuleSection(&module(7000, 3)));
        let mut instances = ComponentInstanceSection::new();
        instances.instantiate(0, [("m", wasm_encoder::ComponentExportKind::Module, 0u32)]);
        c.section(&instances);
        assert_eq!(shape(&c).instances, counts(7000, 3));
    }

    #[test]
    fn instantiating_an_imported_component_is_opaque() {
        let mut c = Component::new();
        let mut types = ComponentTypeSection::new();
        types.component(&wasm_encoder::ComponentType::new());
        c.section(&types);
        let mut imports = ComponentImportSection::new();
        imports.import("c", ComponentTypeRef::Component(0));
        c.section(&imports);
        let mut instances = ComponentInstanceSection::new();
        instances.instantiate(
            0,
            Vec::<(&str, wasm_encoder::ComponentExportKind, u32)>::new(),
        );
        c.section(&instances);
        assert!(shape(&c).opaque);
    }

    #[test]
    fn a_core_module_or_a_cut_component_is_refused() {
        assert!(component_shape(b"\0asm\x01\0\0\0").is_err());
        let mut c = Component::new();
        c.section(&ModuleSection(&module(10, 1)));
        let bytes = c.finish();
        assert!(component_shape(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn the_projects_real_components_fit_the_caps() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut seen = 0;
        for dir in [
            "migrations-wasm/components",
            "migrations-wasm/polyglot/components",
        ] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let s = component_shape(&std::fs::read(&path).unwrap()).unwrap();
                let i = s.instances;
                assert!(
                    !s.opaque
                        && i.count <= MAX_INSTANCES as u64
                        && i.memories <= MAX_MEMORIES as u64
                        && i.tables <= MAX_TABLES as u64
                        && i.bytes < 1 << 20,
                    "{}: {s:?}",
                    path.display()
                );
                seen += 1;
                if path.to_string_lossy().contains("tags_as_array") {
                    // The Python revision: componentize-py links an
                    // interpreter's libraries as modules of their own.
                    assert_eq!((i.count, i.memories, i.tables), (14, 1, 2), "{s:?}");
                }
            }
        }
        assert_eq!(seen, 7);
    }
}
