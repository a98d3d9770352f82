//! Write PostgreSQL schema revisions as WebAssembly components.
//!
//! A revision crate declares itself once with [`revision!`] and receives an
//! [`Op`] in its `upgrade` and `downgrade` functions. [`Op`] generates
//! PostgreSQL SQL (identifiers always quoted, values always sent as
//! parameters) and sends it through the host's `sql` interface.
//!
//! ```
//! use guest_sdk::{Column, Op, Result, Type};
//!
//! guest_sdk::revision! {
//!     id: "c7bb9a9f0570",
//!     down_revisions: [],
//!     message: "Initial schema",
//!     upgrade: upgrade,
//!     downgrade: downgrade,
//! }
//!
//! fn upgrade(op: &mut Op) -> Result<()> {
//!     op.create_table("projects")
//!         .column(Column::new("id", Type::Varchar(50)).not_null().primary_key())
//!         .column(Column::new("status", Type::Varchar(20)).not_null())
//!         .index("idx_projects_status", ["status"])
//!         .execute()
//! }
//!
//! fn downgrade(op: &mut Op) -> Result<()> {
//!     op.drop_table("projects").execute()
//! }
//! ```

// `alloc` only, so that a guest may go `no_std` and skip std's panic and
// formatting machinery when size matters.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// Bindings generated from the `pgwasm:migration` WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "migration",
        path: "../wit",
        pub_export_macro: true,
        default_bindings_module: "guest_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

mod error;
mod ident;
mod op;
mod schema;
mod value;

#[cfg(test)]
mod tests;

pub use bindings::pgwasm::migration::types::{
    Column as ResultColumn, DbError, Direction, Level, Mode, RevisionInfo, Rows, Value,
};
pub use error::{Error, Result};
pub use ident::{MAX_IDENTIFIER_BYTES, quote_ident};
pub use op::{
    AddColumn, AddForeignKey, AlterColumn, Call, CreateIndex, CreateTable, DropColumn,
    DropConstraint, DropIndex, DropTable, Op,
};
pub use schema::{Column, FkAction, ForeignKey, Type};

/// Declares the revision once and exports it as the component's `migration` world.
///
/// Fields must appear in this order; `branch_labels`, `depends_on` and
/// `transactional` (default `true`) are optional. `upgrade` and `downgrade`
/// take `&mut Op` and return `Result<(), E>` for any `E: Display`.
///
/// ```
/// # use guest_sdk::{Op, Result};
/// # fn upgrade(_: &mut Op) -> Result<()> { Ok(()) }
/// # fn downgrade(_: &mut Op) -> Result<()> { Ok(()) }
/// guest_sdk::revision! {
///     id: "a1b2c3d4e5f6",
///     down_revisions: ["c7bb9a9f0570"],
///     message: "Add action_lists table",
///     branch_labels: [],
///     depends_on: [],
///     transactional: true,
///     upgrade: upgrade,
///     downgrade: downgrade,
/// }
/// ```
#[macro_export]
macro_rules! revision {
    (
        id: $id:expr,
        down_revisions: [$($down:expr),* $(,)?],
        message: $message:expr,
        $(branch_labels: [$($label:expr),* $(,)?],)?
        $(depends_on: [$($dep:expr),* $(,)?],)?
        $(transactional: $transactional:expr,)?
        upgrade: $upgrade:expr,
        downgrade: $downgrade:expr $(,)?
    ) => {
        const _: () = {
            struct GuestSdkRevision;

            impl $crate::bindings::Guest for GuestSdkRevision {
                fn info() -> $crate::RevisionInfo {
                    $crate::__private::info(
                        $id,
                        &[$($down),*],
                        &[$($($label),*)?],
                        &[$($($dep),*)?],
                        $message,
                        $crate::__private::transactional(&[$($transactional)?]),
                    )
                }

                fn upgrade() -> ::core::result::Result<(), $crate::__private::String> {
                    $crate::__private::run($upgrade)
                }

                fn downgrade() -> ::core::result::Result<(), $crate::__private::String> {
                    $crate::__private::run($downgrade)
                }
            }

            $crate::bindings::export!(GuestSdkRevision with_types_in $crate::bindings);
        };
    };
}

/// Support for [`revision!`]; not a stable API.
#[doc(hidden)]
pub mod __private {
    use alloc::string::ToString;
    use alloc::vec::Vec;
    use core::fmt::Display;

    pub use alloc::string::String;

    use crate::{Op, RevisionInfo};

    /// Builds the `info()` answer from the macro's literals.
    pub fn info(
        id: &str,
        down_revisions: &[&str],
        branch_labels: &[&str],
        depends_on: &[&str],
        message: &str,
        transactional: bool,
    ) -> RevisionInfo {
        let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        RevisionInfo {
            id: id.to_string(),
            down_revisions: owned(down_revisions),
            branch_labels: owned(branch_labels),
            depends_on: owned(depends_on),
            message: message.to_string(),
            transactional,
        }
    }

    /// An optional macro argument arrives as a zero- or one-element slice.
    pub fn transactional(given: &[bool]) -> bool {
        given.first().copied().unwrap_or(true)
    }

    /// Runs one direction against the host and flattens its error to text.
    pub fn run<E: Display>(
        f: impl FnOnce(&mut Op) -> core::result::Result<(), E>,
    ) -> core::result::Result<(), String> {
        run_with(Op::host(), f)
    }

    /// [`run`] with any `Op`, so the error path is testable natively.
    pub fn run_with<E: Display>(
        mut op: Op,
        f: impl FnOnce(&mut Op) -> core::result::Result<(), E>,
    ) -> core::result::Result<(), String> {
        f(&mut op).map_err(|e| e.to_string())
    }
}
