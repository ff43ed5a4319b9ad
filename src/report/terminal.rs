//! Tables for the terminal: columns sized to what they hold, so a 40-character
//! service name does not push its figures out of line. Borderless, two
//! spaces between columns, names left and figures right: readable in a CI
//! log and when pasted into a document.

use comfy_table::presets::NOTHING;
use comfy_table::{CellAlignment, ColumnConstraint, Table};

/// A table with these headers: the first column left-aligned, the others
/// right-aligned.
pub fn table(headers: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(NOTHING).set_header(headers.to_vec());
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, 2));
        column.set_constraint(ColumnConstraint::ContentWidth);
        if i > 0 {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// Left-aligns column `index` (a sentence rather than a figure).
pub fn left(table: &mut Table, index: usize) {
    if let Some(column) = table.column_mut(index) {
        column.set_cell_alignment(CellAlignment::Left);
    }
}
