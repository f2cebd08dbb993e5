//! Values that adapt to the column they are written to, so one binary COPY serves a
//! `bigint` volume column and the tutorial's `integer` one alike.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A nullable price for a `double precision` or `real` column.
#[derive(Debug)]
pub struct FloatCell(pub Option<f64>);

impl ToSql for FloatCell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            None => Ok(IsNull::Yes),
            Some(x) if *ty == Type::FLOAT4 => (x as f32).to_sql(ty, out),
            Some(x) => x.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::FLOAT4 | Type::FLOAT8)
    }

    to_sql_checked!();
}

/// A nullable integer for a `bigint`, `integer` or `smallint` column. Values are
/// range-checked against the column before any write; this check is the last guard.
#[derive(Debug)]
pub struct IntCell(pub Option<i64>);

impl ToSql for IntCell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let Some(v) = self.0 else {
            return Ok(IsNull::Yes);
        };
        match *ty {
            Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            _ => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }

    to_sql_checked!();
}
