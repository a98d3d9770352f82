//! Core module → component: wraps what wit-bindgen's guests compile to in
//! the component model, with no WASI adapter.

/// Whether the bytes are a component already (the layer field of the header is 1).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Wraps a core module built by wit-bindgen into a component.
pub fn encode(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}
