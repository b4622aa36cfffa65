//! The API's own scalars.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// A point in time, as an RFC 3339 string in UTC with a `Z` and millisecond precision, e.g.
/// `2026-11-21T10:02:03.456Z`. Every `DateTime` the API returns has exactly this form; as an
/// input, any RFC 3339 time is accepted and converted to UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// A point in time, as an RFC 3339 string in UTC with a `Z` and millisecond precision, e.g.
/// `2026-11-21T10:02:03.456Z`. Every `DateTime` the API returns has exactly this form; as an
/// input, any RFC 3339 time is accepted.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_with_z_and_milliseconds() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-21T11:02:03.456789123+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            DateTime(t).to_value(),
            Value::String("2026-11-21T10:02:03.456Z".into())
        );
        let whole = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            DateTime(whole).to_value(),
            Value::String("2027-01-15T08:00:00.000Z".into())
        );
    }

    #[test]
    fn any_rfc_3339_input_is_read_as_utc() {
        let v = Value::String("2026-11-21T11:02:03+01:00".into());
        let t = <DateTime as ScalarType>::parse(v).unwrap();
        assert_eq!(t.0.to_rfc3339(), "2026-11-21T10:02:03+00:00");
        assert!(<DateTime as ScalarType>::parse(Value::String("yesterday".into())).is_err());
    }
}
