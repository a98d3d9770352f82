//! Hostile components against the resource caps: a revision's memories,
//! tables and instances share one byte budget (`--memory-limit-mb`), and
//! compiling a component has a cap of its own (`--compile-memory-limit-mb`).
//!
//! Each guest here is a real guest component (`good_extra`) with a hostile
//! core module appended at its top level, made with `wasm-encoder`: the
//! appended instances are created when the component is instantiated, before
//! `upgrade()` runs. Ids `e00000000040`..`e00000000049`.

use crate::common::{REV3, TestDb, repo};
use crate::hostile::{host_measured, project_with_component, refused, state};
use wasm_encoder::{
    BlockType, CodeSection, Component, ConstExpr, Function, FunctionSection, GlobalSection,
    GlobalType, HeapType, InstanceSection, Instruction, MemorySection, MemoryType, Module,
    ModuleArg, ModuleSection, RefType, StartSection, TableSection, TableType, TypeSection, ValType,
};

/// Peak resident memory (KiB) a run capped at 64 MiB may cost the host,
/// compile children included: a debug build's own footprint and 64 MiB, with
/// room to spare, and far below what each guest here cost before its cap
/// (given with each test).
const PEAK_KIB: i64 = 256 << 10;

/// A real guest component with `module` appended and instantiated `times` times.
fn guest_with(module: &Module, times: u32) -> Vec<u8> {
    guest_with_all(&[(module, times)])
}

/// A real guest component with each module appended and instantiated as
/// many times as given.
fn guest_with_all(modules: &[(&Module, u32)]) -> Vec<u8> {
    let mut bytes = std::fs::read(repo().join("tests/guests/components/good_extra.wasm")).unwrap();
    let first = top_level_modules(&bytes);
    let mut extra = Component::new();
    let mut instances = InstanceSection::new();
    for (i, (module, times)) in modules.iter().enumerate() {
        extra.section(&ModuleSection(module));
        for _ in 0..*times {
            instances.instantiate(first + i as u32, Vec::<(&str, ModuleArg)>::new());
        }
    }
    extra.section(&instances);
    // A component's sections may come in any order: the new ones go after
    // the guest's own (without the second header).
    bytes.extend_from_slice(&extra.finish()[8..]);
    bytes
}

/// Core modules in a component's top-level index space (none imported or aliased
/// in components `host build` makes).
fn top_level_modules(bytes: &[u8]) -> u32 {
    let mut depth = 0usize;
    let mut modules = 0;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.unwrap() {
            wasmparser::Payload::ModuleSection { .. } => {
                if depth == 0 {
                    modules += 1;
                }
                depth += 1;
            }
            wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    modules
}

/// A module of `memories` memories of `pages` 64 KiB pages each, whose start
/// function writes every byte of each (so that each costs the host its size).
fn memories_module(memories: u32, pages: u64) -> Module {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    module.section(&funcs);
    let mut mems = MemorySection::new();
    for _ in 0..memories {
        mems.memory(MemoryType {
            minimum: pages,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
    }
    module.section(&mems);
    module.section(&StartSection { function_index: 0 });
    let mut start = Function::new([]);
    for m in 0..memories {
        start.instruction(&Instruction::I32Const(0));
        start.instruction(&Instruction::I32Const(1));
        start.instruction(&Instruction::I32Const((pages << 16) as i32));
        start.instruction(&Instruction::MemoryFill(m));
    }
    start.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&start);
    module.section(&code);
    module
}

/// A module with one empty funcref table whose start function grows it by
/// `elements` null entries (and, with `pages`, a memory of that many pages
/// it fills first).
fn table_grow_module(elements: u32, pages: u64) -> Module {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    module.section(&funcs);
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: 0,
        maximum: None,
        shared: false,
    });
    module.section(&tables);
    if pages > 0 {
        let mut mems = MemorySection::new();
        mems.memory(MemoryType {
            minimum: pages,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&mems);
    }
    module.section(&StartSection { function_index: 0 });
    let mut start = Function::new([]);
    if pages > 0 {
        start.instruction(&Instruction::I32Const(0));
        start.instruction(&Instruction::I32Const(1));
        start.instruction(&Instruction::I32Const((pages << 16) as i32));
        start.instruction(&Instruction::MemoryFill(0));
    }
    start.instruction(&Instruction::RefNull(HeapType::FUNC));
    start.instruction(&Instruction::I32Const(elements as i32));
    start.instruction(&Instruction::TableGrow(0));
    start.instruction(&Instruction::Drop);
    start.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&start);
    module.section(&code);
    module
}

/// A module of `globals` mutable i64 globals: each instance of it holds all of
/// them in its instance state, 16 bytes each.
fn globals_module(globals: u32) -> Module {
    let mut module = Module::new();
    let mut section = GlobalSection::new();
    for _ in 0..globals {
        section.global(
            GlobalType {
                val_type: ValType::I64,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i64_const(1),
        );
    }
    module.section(&section);
    module
}

/// A module with one function of `depth` nested blocks: 3 bytes of
/// WebAssembly per level, over a kilobyte of compiler memory per level.
fn nested_blocks_module(depth: u32) -> Module {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    module.section(&funcs);
    let mut f = Function::new([]);
    for _ in 0..depth {
        f.instruction(&Instruction::Block(BlockType::Empty));
    }
    for _ in 0..depth {
        f.instruction(&Instruction::End);
    }
    f.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&f);
    module.section(&code);
    module
}

/// Runs `host run head` with `args` on a database at the TaskMan-v2 head and
/// the hand-made guest `id` on top; checks it was refused cleanly (exit 1,
/// one `error:` line naming the revision, the database unchanged) and
/// returns that line and the host's peak RSS in KiB.
fn refused_with(id: &str, name: &str, bytes: &[u8], args: &[&str]) -> (String, i64) {
    let db = TestDb::new();
    let project = project_with_component(id, name, bytes);
    db.host(project.path(), &["upgrade", REV3]).ok();
    let before = state(&db);
    let mut all = vec!["run", "head"];
    all.extend_from_slice(args);
    let (run, peak_kib) = host_measured(project.path(), &db.url, &all);
    let line = refused(&db, &before, run, id);
    eprintln!("peak RSS of the host: {} MiB", peak_kib >> 10);
    (line, peak_kib)
}

/// [`refused_with`] under a 64 MiB cap, for a guest stopped when it is
/// instantiated: rolled back, and the host's peak under [`PEAK_KIB`].
fn stopped_at_64_mib(id: &str, name: &str, bytes: &[u8]) -> String {
    let (line, peak_kib) = refused_with(id, name, bytes, &["--memory-limit-mb", "64"]);
    assert!(
        line.contains(&format!("revision {id} (upgrade) was stopped: ")),
        "{line}"
    );
    assert!(
        line.ends_with("The revision was rolled back; the database is still at 934f38a4fc73"),
        "{line}"
    );
    assert!(
        peak_kib < PEAK_KIB,
        "a guest capped at 64 MiB made the host use {} MiB",
        peak_kib >> 10
    );
    line
}

#[test]
fn many_memories_share_one_memory_cap() {
    // Twelve memories of 60 MiB, each under the cap: 770 MiB of host memory
    // when each memory had a cap of its own.
    let line = stopped_at_64_mib(
        "e00000000040",
        "many_memories",
        &guest_with(&memories_module(12, 960), 1),
    );
    assert!(
        line.contains("it tried to grow its memory past the cap of 64 MiB (its memories, tables and instances together would take")
            && line.contains("raise --memory-limit-mb if it legitimately needs more"),
        "{line}"
    );
}

#[test]
fn memories_past_the_count_cap_are_refused() {
    // Sixteen one-page memories next to the guest's own: small, but each
    // reserves gigabytes of address space.
    let line = stopped_at_64_mib(
        "e00000000041",
        "seventeen_memories",
        &guest_with(&memories_module(16, 1), 1),
    );
    assert!(
        line.contains("it would create 17 linear memories, more than the 16 the sandbox allows"),
        "{line}"
    );
}

#[test]
fn table_grow_is_charged_to_the_memory_cap() {
    // 100 million null entries: 785 MiB of host memory when tables had no cap.
    let line = stopped_at_64_mib(
        "e00000000042",
        "table_grow",
        &guest_with(&table_grow_module(100_000_000, 0), 1),
    );
    assert!(
        line.contains("it tried to grow a table to 100000000 elements, past the cap of 64 MiB")
            && line.contains("--memory-limit-mb"),
        "{line}"
    );
}

#[test]
fn a_memory_and_a_table_share_the_cap() {
    // 40 MiB of memory and a 32 MiB table (2 million entries): each under
    // the cap alone, over it together.
    let line = stopped_at_64_mib(
        "e00000000043",
        "memory_and_table",
        &guest_with(&table_grow_module(2_000_000, 640), 1),
    );
    assert!(
        line.contains("it tried to grow a table to 2000000 elements, past the cap of 64 MiB"),
        "{line}"
    );
}

#[test]
fn instances_are_charged_to_the_memory_cap() {
    // Sixty instances of a module of a million globals: 16 MiB of instance
    // state each, 1 GiB of host memory when only their count was capped.
    let line = stopped_at_64_mib(
        "e00000000044",
        "many_instances",
        &guest_with(&globals_module(1_000_000), 60),
    );
    assert!(
        line.contains("its 63 core instances would take")
            && line.contains("MiB of host memory, past the cap of 64 MiB; raise --memory-limit-mb"),
        "{line}"
    );
}

#[test]
fn compiling_a_component_has_a_cap_of_its_own() {
    // A million nested blocks, 3 MB: over a gigabyte to compile with Winch
    // when compiling had no cap. Refused before any revision runs.
    let bytes = guest_with(&nested_blocks_module(1_000_000), 0);
    let (line, peak_kib) = refused_with(
        "e00000000045",
        "nested_blocks",
        &bytes,
        &["--compile-memory-limit-mb", "256"],
    );
    assert!(
        line.contains("revision e00000000045: compiling components/nested_blocks.wasm needs more than the compile memory cap of 256 MiB (")
            && line.contains("raise --compile-memory-limit-mb if you trust this component")
            && line.ends_with("Nothing was run"),
        "{line}"
    );
    assert!(
        peak_kib < 384 << 10,
        "compiling under a 256 MiB cap made the host use {} MiB",
        peak_kib >> 10
    );
}

#[test]
fn a_guest_within_its_caps_runs() {
    // Two memories of 10 MiB, filled, and a table of 100,000 entries: well
    // under 64 MiB together, so the budget must not refuse them.
    let db = TestDb::new();
    let bytes = guest_with_all(&[
        (&memories_module(2, 160), 1),
        (&table_grow_module(100_000, 0), 1),
    ]);
    let project = project_with_component("e00000000046", "within_caps", &bytes);
    db.host(project.path(), &["upgrade", REV3]).ok();
    let out = db
        .host(project.path(), &["run", "head", "--memory-limit-mb", "64"])
        .ok()
        .stdout();
    assert!(out.contains("e00000000046"), "{out}");
    assert_eq!(db.heads(), vec!["e00000000046"]);
}
