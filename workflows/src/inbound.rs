//! [`Inbound`]: a signal's input as the workflow receives it, `Valid` or
//! `Refused`. A signal is written to the history before any worker sees it,
//! so one the workflow cannot read must not fail its task: that would fail
//! every task after it, and any client that reaches Temporal could wedge a
//! booking with one plain or malformed signal. The payload codec hands on a
//! payload it could not open as a refused one (`codec`), which
//! reads as `Refused` here; so does a payload that does not deserialize.
//! On the wire it is the value itself: `Valid(x)` sends exactly what `x`
//! would, so histories written before the wrapper read the same.

use temporalio_common::data_converters::{
    GenericPayloadConverter, PayloadConversionError, SerializationContext, TemporalDeserializable,
    TemporalSerializable,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<T> {
    /// Sealed with a payload key and read as `T`.
    Valid(T),
    /// Not sealed with our key, or not a `T`: the signal is ignored.
    Refused,
}

impl<T> Inbound<T> {
    /// The value, unless it was refused.
    pub fn valid(self) -> Option<T> {
        match self {
            Inbound::Valid(value) => Some(value),
            Inbound::Refused => None,
        }
    }
}

impl<T> From<T> for Inbound<T> {
    fn from(value: T) -> Self {
        Inbound::Valid(value)
    }
}

impl<T: TemporalSerializable + 'static> TemporalSerializable for Inbound<T> {
    fn to_payload(
        &self,
        ctx: &SerializationContext<'_>,
    ) -> Result<Payload, PayloadConversionError> {
        match self {
            Inbound::Valid(value) => ctx.converter.to_payload(ctx, value),
            Inbound::Refused => Err(PayloadConversionError::WrongEncoding),
        }
    }
}

impl<T: TemporalDeserializable + 'static> TemporalDeserializable for Inbound<T> {
    fn from_payload(
        ctx: &SerializationContext<'_>,
        payload: Payload,
    ) -> Result<Self, PayloadConversionError> {
        Ok(match ctx.converter.from_payload::<T>(ctx, payload) {
            Ok(value) => Inbound::Valid(value),
            Err(_) => Inbound::Refused,
        })
    }

    fn from_payloads(
        ctx: &SerializationContext<'_>,
        mut payloads: Vec<Payload>,
    ) -> Result<Self, PayloadConversionError> {
        match (payloads.pop(), payloads.is_empty()) {
            (Some(payload), true) => Self::from_payload(ctx, payload),
            _ => Ok(Inbound::Refused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::FlightCancelled;
    use std::collections::HashMap;
    use temporalio_common::data_converters::{
        PayloadConverter, SerializationContextData, WorkflowSerializationContext,
    };

    fn read(payloads: Vec<Payload>) -> Inbound<FlightCancelled> {
        let converter = PayloadConverter::default();
        let data = SerializationContextData::Workflow(WorkflowSerializationContext::new());
        let ctx = SerializationContext::new(&data, &converter);
        converter.from_payloads(&ctx, payloads).unwrap()
    }

    fn payload(encoding: &str, data: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_owned(), encoding.as_bytes().to_vec())]),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_signal_reads_and_travels_as_its_value() {
        let converter = PayloadConverter::default();
        let data = SerializationContextData::Workflow(WorkflowSerializationContext::new());
        let ctx = SerializationContext::new(&data, &converter);
        let value = FlightCancelled {
            reason: Some("storm".into()),
        };
        let wrapped = converter
            .to_payloads(&ctx, &Inbound::Valid(value.clone()))
            .unwrap();
        assert_eq!(wrapped, converter.to_payloads(&ctx, &value).unwrap());
        assert_eq!(read(wrapped), Inbound::Valid(value));
    }

    #[test]
    fn refused_missing_and_malformed_signals_read_as_refused() {
        let refused = payload("binary/refused", "");
        assert_eq!(read(vec![refused]), Inbound::Refused);
        assert_eq!(read(vec![]), Inbound::Refused);
        assert_eq!(read(vec![payload("json/plain", "[1,2]")]), Inbound::Refused);
        let two = vec![payload("json/plain", "{}"), payload("json/plain", "{}")];
        assert_eq!(read(two), Inbound::Refused);
    }
}
