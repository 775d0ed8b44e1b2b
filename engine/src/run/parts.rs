//! The pluggable parts of a run: where input comes from (control, venue,
//! market data), what trades, and where orders go.
//!
//! [`Parts::from_config`] builds them for every kind of feed and venue the
//! engine reaches by itself: the synthetic walk, an external ITCH or
//! Binance-compatible feed, the paper venue, a FIX venue at its address.
//! A caller that starts something to serve the engine (a simulated venue)
//! builds the market-data source or points the venue itself, and hands
//! them to [`Parts::assemble`]. A simulated venue started for the run
//! knows no order of an earlier run: its source answers the restored open
//! orders as cancelled (`fresh_venue`).

use super::fresh_venue::FreshVenue;
use super::EngineError;
use crate::adapters::binance_source::BinanceSource;
use crate::adapters::fix::FixClient;
use crate::adapters::itch_source::ItchSource;
use crate::adapters::paper_venue::PaperVenue;
use crate::adapters::QueueGateway;
use crate::config::{Config, FixVenueConfig, MarketDataSource, VenueKind};
use crate::execution::Gateway;
use crate::ingest::synthetic::Synthetic;
use crate::ingest::{ControlInbox, ControlSender, Source, Sources, Tapped};
use crate::strategy::Strategy;
use std::net::{SocketAddr, ToSocketAddrs};

/// The pluggable parts of a run.
pub struct Parts {
    pub sources: Sources,
    pub strategy: Box<dyn Strategy>,
    pub gateway: Box<dyn Gateway>,
}

/// Where orders go, as the run resolved it.
pub enum VenueAt {
    /// The paper venue, in-process: it fills at the touch of the market
    /// source it taps.
    Paper,
    /// A FIX 4.4 venue at `address`, with these session settings.
    Fix {
        address: SocketAddr,
        settings: FixVenueConfig,
    },
}

impl Parts {
    /// The configured parts, for feeds and venues the engine reaches by
    /// itself; a kind served by a simulated venue is refused (its caller
    /// starts the simulator and calls [`Parts::assemble`]).
    pub fn from_config(config: &Config) -> Result<(Parts, ControlSender), EngineError> {
        let market = market_from_config(config)?;
        let venue = venue_from_config(config)?;
        Parts::assemble(config, market, venue)
    }

    /// Parts with this market-data source and venue: a control inbox (its
    /// sender returned), the configured strategy; the paper venue taps the
    /// market source.
    pub fn assemble(
        config: &Config,
        market: Box<dyn Source>,
        venue: VenueAt,
    ) -> Result<(Parts, ControlSender), EngineError> {
        let (control_sender, inbox) = ControlInbox::new();
        let (venue, gateway, market): (Box<dyn Source>, Box<dyn Gateway>, Box<dyn Source>) =
            match venue {
                VenueAt::Paper => {
                    let (venue, gateway) = PaperVenue::new(config);
                    let market = Box::new(Tapped::new(market, venue.market_tap()));
                    (Box::new(venue), Box::new(gateway), market)
                }
                VenueAt::Fix { address, settings } => {
                    let (gateway, requests) = QueueGateway::stamping(config.venue.queue_capacity);
                    let client = FixClient::new(config, &settings, address, requests)
                        .map_err(|err| EngineError::Venue(format!("FIX session: {err}")))?;
                    let venue: Box<dyn Source> = if config.venue.kind == VenueKind::FixSim {
                        // The caller started this venue for this run: it knows no earlier order.
                        Box::new(FreshVenue::new(Box::new(client)))
                    } else {
                        Box::new(client)
                    };
                    (venue, Box::new(gateway), market)
                }
            };
        let parts = Parts {
            sources: Sources {
                control: Box::new(inbox),
                venue,
                market,
            },
            strategy: crate::strategy::from_config(config),
            gateway,
        };
        Ok((parts, control_sender))
    }
}

/// The configured market-data source, for the sources the engine reaches
/// by itself: the synthetic walk, an external ITCH feed, an external
/// Binance-compatible WebSocket endpoint.
pub fn market_from_config(config: &Config) -> Result<Box<dyn Source>, EngineError> {
    match config.market_data.source {
        MarketDataSource::Synthetic => Ok(Box::new(Synthetic::new(config))),
        MarketDataSource::Itch => Ok(Box::new(
            ItchSource::bind_external(config).map_err(EngineError::Venue)?,
        )),
        MarketDataSource::BinanceWs => Ok(Box::new(
            BinanceSource::new(config, &config.market_data.binance.url)
                .map_err(EngineError::Venue)?,
        )),
        simulated @ (MarketDataSource::ItchSim | MarketDataSource::BinanceSim) => {
            Err(EngineError::Venue(format!(
                "market_data.source = {:?} is served by the simulated venue, which the caller starts",
                simulated.name()
            )))
        }
    }
}

/// The configured venue, for the venues the engine reaches by itself: the
/// paper venue, a FIX venue at `venue.fix.host:port`.
pub fn venue_from_config(config: &Config) -> Result<VenueAt, EngineError> {
    let fix = &config.venue.fix;
    match config.venue.kind {
        VenueKind::Paper => Ok(VenueAt::Paper),
        VenueKind::Fix => {
            let address = (fix.host.as_str(), fix.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut addresses| addresses.next())
                .ok_or_else(|| {
                    EngineError::Venue(format!(
                        "cannot resolve venue.fix.host {}:{}",
                        fix.host, fix.port
                    ))
                })?;
            Ok(VenueAt::Fix {
                address,
                settings: fix.clone(),
            })
        }
        VenueKind::FixSim => Err(EngineError::Venue(
            "venue.kind = \"fix-sim\" is the simulated venue, which the caller starts".into(),
        )),
    }
}
