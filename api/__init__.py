"""The Litestar edge: decode, authorise, call the domain, audit, encode. No clinical logic."""
