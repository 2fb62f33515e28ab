//! The codec endpoint's shared state ([`crate::http`]'s handlers reach it
//! through `State<CodecState>`): the payload keys and the operators'
//! token check.

use crate::Keys;
use crate::operator::Operators;

#[derive(Clone)]
pub(crate) struct CodecState {
    pub(crate) keys: Keys,
    pub(crate) operators: Operators,
}
