//! Webhook delivery: the sender that turns new events into deliveries and posts them
//! (`webhook_sender`), one POST at a time over http or https with a timeout (`http_post`).
//! What a hook receives, the retry schedule and the signature are
//! `hoist_core::webhook_policy`.

pub mod http_post;
pub mod webhook_sender;

#[cfg(test)]
mod tests;
