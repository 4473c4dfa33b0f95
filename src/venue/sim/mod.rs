//! The in-process simulated venue: order books, a liquidity model, balances and transfers.
