//! Multi-row INSERTs built directly, for the hot write path.
//!
//! sea-query's builder copies every bound value (JSON trees included) when it renders a
//! statement; these inserts move the values into the statement instead, which halves the
//! allocations of a bulk write (measured in docs/benchmarks.md). The SQL is the same on
//! PostgreSQL and SQLite but for the placeholders.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::StoreError;

/// Bound parameters per statement: well under PostgreSQL's 65,535 and SQLite's 32,766.
const MAX_PARAMS: usize = 30_000;

/// `INSERT INTO table (columns) VALUES (...), (...) <suffix>`, in as many statements as the
/// parameter limit needs. Every row must have one value per column.
pub(crate) async fn insert_rows<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    suffix: &str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let per_statement = (MAX_PARAMS / columns.len()).max(1);
    let head = format!(
        "INSERT INTO \"{table}\" ({}) VALUES ",
        columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let mut sql =
            String::with_capacity(head.len() + chunk.len() * columns.len() * 6 + suffix.len());
        sql.push_str(&head);
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        let mut n = 0usize;
        for (i, row) in chunk.into_iter().enumerate() {
            if row.len() != columns.len() {
                return Err(StoreError::Internal(format!(
                    "insert into {table}: a row has {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (j, v) in row.into_iter().enumerate() {
                if j > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                match backend {
                    DbBackend::Postgres => {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                    _ => sql.push('?'),
                }
                values.push(v);
            }
            sql.push(')');
        }
        if !suffix.is_empty() {
            sql.push(' ');
            sql.push_str(suffix);
        }
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
