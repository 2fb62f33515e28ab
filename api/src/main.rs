//! `api serve | migrate`.

use api::app::{Application, migrate};
use api::config::Config;
use clap::{Parser, Subcommand};
use kit::telemetry;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "The gateway: accounts, catalogue, bookings, Stripe webhook")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Create the booking database if needed and apply the gateway's
    /// migrations (`migrations/gateway`; only BOOKING_DATABASE_URL is read).
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_logging("info,sqlx=warn,tower_http=info");
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(Config::from_env()?).await?;
            app.run_until(telemetry::shutdown_signal()).await?;
            tracing::info!("gateway stopped");
        }
        Command::Migrate => {
            migrate(&Config::database_url_from_env()?).await?;
            tracing::info!("the gateway's tables are migrated");
        }
    }
    Ok(())
}
