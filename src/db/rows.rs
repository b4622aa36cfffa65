//! Statements on a rusqlite connection, as SeaORM's SQLite driver ran them: values bound as
//! sqlx binds them (so rows written here and rows sqlx wrote are the same bytes: times as RFC
//! 3339 text with microseconds and `+00:00`, booleans 0/1, JSON as text), and rows read back
//! by each column's declared type into SeaORM's `ProxyRow`s. The writer thread
//! (`db::writer`) and the read connections (`db::sqlite`) both use them.
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{Value as Sql, ValueRef};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, ProxyExecResult, ProxyRow, Statement};

pub(super) fn err(e: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("SQLite: {e}"))
}

/// The INTEGER columns read as `i64`: the entities' 64-bit columns, and the migrator's
/// `seaql_migrations.applied_at`.
pub(super) fn big_columns() -> HashSet<(String, String)> {
    let mut big: HashSet<_> = crate::entities::big_integer_columns().into_iter().collect();
    big.insert(("seaql_migrations".into(), "applied_at".into()));
    big
}

/// Runs a query on `conn`, each column read by its declared type.
pub(super) fn query(
    conn: &rusqlite::Connection,
    stmt: &Statement,
    big: &HashSet<(String, String)>,
) -> Result<Vec<ProxyRow>, DbErr> {
    let mut s = conn.prepare_cached(&stmt.sql).map_err(err)?;
    let params = bind(stmt)?;
    let kinds: Vec<(String, Kind)> = {
        let meta = s.columns_with_metadata();
        s.columns()
            .iter()
            .zip(meta.iter())
            .map(|(c, m)| {
                let kind = Kind::of(c.decl_type(), m.table_name(), m.origin_name(), big);
                (c.name().to_string(), kind)
            })
            .collect()
    };
    let mut rows = s
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut values = BTreeMap::new();
        for (i, (name, kind)) in kinds.iter().enumerate() {
            let v = row.get_ref(i).map_err(err)?;
            values.insert(name.clone(), kind.decode(v)?);
        }
        out.push(ProxyRow::new(values));
    }
    Ok(out)
}

/// Runs a statement on `conn` whether or not it returns rows, counting the changes.
pub(super) fn execute(
    conn: &rusqlite::Connection,
    stmt: &Statement,
) -> Result<ProxyExecResult, DbErr> {
    let mut s = conn.prepare_cached(&stmt.sql).map_err(err)?;
    let params = bind(stmt)?;
    for (i, p) in params.iter().enumerate() {
        s.raw_bind_parameter(i + 1, p).map_err(err)?;
    }
    let n = s.raw_execute().map_err(err)?;
    Ok(ProxyExecResult::new(
        conn.last_insert_rowid() as u64,
        n as u64,
    ))
}

/// How a column is read back, from its declared type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Bool,
    Time,
    Int,
    BigInt,
    Text,
    /// An expression: by what SQLite holds.
    Any,
}

impl Kind {
    fn of(
        decl: Option<&str>,
        table: Option<&str>,
        column: Option<&str>,
        big: &HashSet<(String, String)>,
    ) -> Kind {
        let Some(decl) = decl.map(str::to_ascii_lowercase) else {
            return Kind::Any;
        };
        match decl.as_str() {
            "boolean" | "bool" => Kind::Bool,
            d if d.starts_with("timestamp") || d.starts_with("datetime") => Kind::Time,
            "integer" | "int" | "bigint" | "smallint" => {
                let key = (
                    table.unwrap_or("").to_string(),
                    column.unwrap_or("").to_string(),
                );
                match decl == "bigint" || big.contains(&key) {
                    true => Kind::BigInt,
                    false => Kind::Int,
                }
            }
            d if d.starts_with("varchar") || d.starts_with("char") || d == "text" => Kind::Text,
            _ => Kind::Any,
        }
    }

    fn decode(self, v: ValueRef<'_>) -> Result<Value, DbErr> {
        let bad = || DbErr::Type(format!("SQLite: a {v:?} in a {self:?} column"));
        Ok(match (self, v) {
            (Kind::Bool, ValueRef::Null) => Value::Bool(None),
            (Kind::Bool, ValueRef::Integer(i)) => Value::Bool(Some(i != 0)),
            (Kind::Time, ValueRef::Null) => Value::ChronoDateTimeUtc(None),
            (Kind::Time, ValueRef::Text(t)) => {
                let t = std::str::from_utf8(t).map_err(|_| bad())?;
                Value::ChronoDateTimeUtc(Some(time_from_text(t).ok_or_else(bad)?))
            }
            (Kind::Time, ValueRef::Integer(i)) => {
                Value::ChronoDateTimeUtc(Some(DateTime::from_timestamp(i, 0).ok_or_else(bad)?))
            }
            (Kind::Int, ValueRef::Null) => Value::Int(None),
            (Kind::Int, ValueRef::Integer(i)) => {
                Value::Int(Some(i32::try_from(i).map_err(|_| bad())?))
            }
            (Kind::BigInt, ValueRef::Null) => Value::BigInt(None),
            (Kind::BigInt | Kind::Any, ValueRef::Integer(i)) => Value::BigInt(Some(i)),
            (Kind::Text | Kind::Any, ValueRef::Null) => Value::String(None),
            (Kind::Text | Kind::Any, ValueRef::Text(t)) => {
                Value::String(Some(String::from_utf8(t.to_vec()).map_err(|_| bad())?))
            }
            (Kind::Any, ValueRef::Real(f)) => Value::Double(Some(f)),
            (Kind::Any, ValueRef::Blob(b)) => Value::Bytes(Some(b.to_vec())),
            _ => return Err(bad()),
        })
    }
}

/// A stored time, read as sqlx-sqlite reads one: RFC 3339 (what both write), or one of
/// SQLite's own text forms (`CURRENT_TIMESTAMP`, `datetime()`), taken as UTC without an
/// offset.
fn time_from_text(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Some(at.with_timezone(&Utc));
    }
    const FORMATS: [&str; 12] = [
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];
    FORMATS.iter().find_map(|f| {
        DateTime::parse_from_str(t, f)
            .map(|at| at.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(t, f)
                    .ok()
                    .map(|n| n.and_utc())
            })
    })
}

/// The statement's values as sqlx-sqlite binds them (sea-query-sqlx's `SqlxValues` and
/// sqlx's `Encode` for SQLite), so both write the same bytes.
fn bind(stmt: &Statement) -> Result<Vec<Sql>, DbErr> {
    let Some(values) = &stmt.values else {
        return Ok(Vec::new());
    };
    values.0.iter().map(one).collect()
}

fn one(v: &Value) -> Result<Sql, DbErr> {
    fn int<T: Into<i64> + Copy>(v: &Option<T>) -> Sql {
        v.map_or(Sql::Null, |i| Sql::Integer(i.into()))
    }
    fn text(v: Option<String>) -> Sql {
        v.map_or(Sql::Null, Sql::Text)
    }
    fn time<Tz: chrono::TimeZone>(t: &Option<DateTime<Tz>>) -> Sql
    where
        Tz::Offset: std::fmt::Display,
    {
        text(
            t.as_ref()
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
        )
    }
    Ok(match v {
        Value::Bool(b) => b.map_or(Sql::Null, |b| Sql::Integer(b as i64)),
        Value::TinyInt(i) => int(i),
        Value::SmallInt(i) => int(i),
        Value::Int(i) => int(i),
        Value::BigInt(i) => int(i),
        Value::TinyUnsigned(i) => int(i),
        Value::SmallUnsigned(i) => int(i),
        Value::Unsigned(i) => int(i),
        Value::BigUnsigned(i) => match i {
            None => Sql::Null,
            Some(i) => Sql::Integer(
                i64::try_from(*i).map_err(|_| DbErr::Custom("an unsigned value too big".into()))?,
            ),
        },
        Value::Float(f) => f.map_or(Sql::Null, |f| Sql::Real(f as f64)),
        Value::Double(f) => f.map_or(Sql::Null, Sql::Real),
        Value::String(s) => text(s.clone()),
        Value::Char(c) => text(c.map(|c| c.to_string())),
        Value::Bytes(b) => b.clone().map_or(Sql::Null, Sql::Blob),
        Value::Enum(e) => match e {
            sea_orm::sea_query::OptionEnum::Some(v) => Sql::Text(v.value.to_string()),
            sea_orm::sea_query::OptionEnum::None(_) => Sql::Null,
        },
        Value::ChronoDateTimeUtc(t) => time(t),
        Value::ChronoDateTimeWithTimeZone(t) => time(t),
        Value::ChronoDateTimeLocal(t) => time(t),
        Value::ChronoDateTime(t) => text(t.map(|t| t.format("%F %T%.f").to_string())),
        Value::ChronoDate(d) => text(d.map(|d| d.format("%F").to_string())),
        Value::ChronoTime(t) => text(t.map(|t| t.format("%T%.f").to_string())),
        Value::Json(j) => text(j.as_ref().map(|j| j.to_string())),
        other => {
            return Err(DbErr::Custom(format!(
                "SQLite writer: no binding for {other:?}"
            )));
        }
    })
}
