//! Hyperliquid: the client and the local server that speaks its wire protocol.
