//! The app's components, one file per thing an operator sees.

pub mod admin;
pub mod app;
pub mod client_card;
pub mod client_details;
pub mod client_tab;
pub mod connection_indicator;
pub mod conversation;
pub mod entry_icon;
pub mod error_message;
pub mod lang_switch;
pub mod login;
pub mod preview;
pub mod queue;
pub mod redirect_dialog;
pub mod status_switch;
