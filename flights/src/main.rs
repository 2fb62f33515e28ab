//! `flights serve | migrate | seed`.

use clap::{Parser, Subcommand};
use flights::app::Application;
use flights::config::Config;
use flights::seed;
use kit::telemetry;

/// mimalloc: measurably less allocator time than glibc's under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "The flight service: catalogue, search and seat inventory")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve,
    /// Create the database if needed, apply migrations, then the inventory
    /// functions (`migrations/flights/functions/inventory.sql`).
    Migrate,
    /// Load the demo catalogue (idempotent), or a large one for benchmarks.
    Seed {
        /// Generate this many flights over random routes instead of the demo schedule.
        #[arg(long)]
        flights: Option<u32>,
        /// Days of the demo schedule, starting today.
        #[arg(long, default_value_t = 60)]
        days: u32,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_logging("info,sqlx=warn,tower_http=info");
    match Cli::parse().command {
        Command::Serve => {
            let app = Application::build(Config::from_env()?).await?;
            app.run_until(telemetry::shutdown_signal()).await?;
            tracing::info!("flight service stopped");
        }
        Command::Migrate => {
            let url = Config::database_url_from_env()?;
            seed::migrate(&url).await?;
        }
        Command::Seed { flights, days } => {
            let url = Config::database_url_from_env()?;
            seed::run(&url, flights, days).await?;
        }
    }
    Ok(())
}
