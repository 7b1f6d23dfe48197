//! All integration tests, one binary: the real proxy on loopback in front of a stand-in for
//! the Anthropic API, driven by plain HTTP, the real Claude Code CLI, the official SDKs, nginx
//! as the Kong route, the browser dashboard in Chromium and the desktop app.

mod support;

mod catalog;
mod claude_code;
mod corpus;
mod dashboard;
mod deploy;
#[cfg(feature = "desktop")]
mod desktop;
mod gateway;
mod launch;
mod learn;
mod metrics;
mod names;
mod policies;
mod proxy_http;
mod real_world;
mod review;
mod sdks;
mod soak;
mod tls;
