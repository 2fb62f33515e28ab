//! The Temporal client every process uses: the connection from the
//! standard `TEMPORAL_*` variables (or their profile file), payloads
//! encrypted with the given keys (`codec`).

use anyhow::Context;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};

use crate::config::{Environment, refuse_published_secret, var};

/// The payload keys from `PAYLOAD_ENCRYPTION_KEYS` (required), as every
/// process that talks to Temporal reads them: outside development, a
/// published development key among them stops the start (the message names
/// the variable, never a key).
pub fn payload_keys(environment: Environment) -> anyhow::Result<codec::Keys> {
    if let Some(raw) = var(codec::KEYS_VAR) {
        refuse_published_secret(environment, codec::KEYS_VAR, &raw.into())?;
    }
    Ok(codec::Keys::from_env()?)
}

pub async fn connect(keys: codec::Keys) -> anyhow::Result<Client> {
    let (connection_options, mut client_options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
            .map_err(|e| anyhow::anyhow!("reading the TEMPORAL_* configuration: {e:?}"))?;
    tracing::info!(key = keys.active_id(), "payloads encrypted");
    client_options.data_converter = codec::EncryptionCodec::data_converter(keys);
    let target = connection_options.target.to_string();
    let connection = Connection::connect(connection_options)
        .await
        .with_context(|| format!("connecting to Temporal at {target}"))?;
    tracing::info!(temporal = %target, "connected to Temporal");
    Ok(Client::new(connection, client_options)?)
}
