//! The messaging channels' routes: an admin lists, reads and configures a channel (secrets never
//! shown back), and the serving operator sends a WhatsApp template.

use lobby_wire as wire;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::channels::{Channel, ChannelConfig};
use crate::error::{parse_json, ApiError};
use crate::lobby::{Command, Event, Lobby};

use super::{Call, Reply, Route};

impl Lobby {
    pub(super) fn call_channel(&mut self, call: Call) -> Result<Reply, ApiError> {
        let Call {
            route,
            actor,
            body,
            ctx,
            ..
        } = call;
        let reply = match route {
            Route::ListChannels => {
                let channels: Vec<Value> = [Channel::Messenger, Channel::Whatsapp, Channel::Vk]
                    .into_iter()
                    .filter_map(|c| self.channels.get(c))
                    .map(|c| self.channel_view(&c))
                    .collect();
                Reply::ok(json!({ "channels": channels }))
            }
            Route::GetChannel { channel } => {
                let ch = known_channel(channel)?;
                let config = self.channels.get(ch).ok_or_else(|| {
                    ApiError::not_found(format!("the {} channel's configuration", ch.label()))
                })?;
                Reply::ok(self.channel_view(&config))
            }
            Route::ConfigureChannel { channel } => {
                let ch = known_channel(channel)?;
                let mut v: Value = parse_json(body)?;
                v["channel"] = Value::String(ch.as_str().into());
                let mut config: ChannelConfig = serde_json::from_value(v).map_err(|e| {
                    ApiError::invalid(format!(
                        "the body does not match the {} configuration: {e}",
                        ch.label()
                    ))
                })?;
                trim_config(&mut config);
                let events = self.handle(&Command::ConfigureChannel(config.clone()), ctx.now)?;
                Reply::with(200, self.channel_view(&config), events)
            }
            Route::WhatsappTemplates => {
                self.acting_operator(actor)?;
                let templates = self
                    .channels
                    .whatsapp
                    .as_ref()
                    .map(|c| c.templates.clone())
                    .unwrap_or_default();
                Reply::ok(json!({ "templates": templates }))
            }
            Route::SendTemplate { session } => {
                let op = self.serving_operator(actor, session)?;
                #[derive(Deserialize)]
                struct SendTemplate {
                    name: String,
                    #[serde(default)]
                    values: Vec<String>,
                }
                let req: SendTemplate = parse_json(body)?;
                let events = self.handle(
                    &Command::SendTemplate {
                        session: session.clone(),
                        operator: op,
                        name: req.name.trim().to_string(),
                        values: req.values,
                    },
                    ctx.now,
                )?;
                let seq = match events.first() {
                    Some(Event::MessagePosted { seq, .. }) => *seq,
                    _ => 0,
                };
                let client_message_id = None;
                Reply::with(
                    201,
                    wire::Posted {
                        seq,
                        client_message_id,
                    },
                    events,
                )
            }
            _ => return Err(ApiError::Internal("not a channel route".into())),
        };
        Ok(reply)
    }

    /// What the channel routes show of a configuration: public settings and the webhook URL's
    /// path, never a secret or a token.
    fn channel_view(&self, config: &ChannelConfig) -> Value {
        let mut v = config.public();
        let slug = self.tenant.as_ref().map_or("", |t| t.slug.as_str());
        v["webhook"] = Value::String(format!("/hooks/{slug}/{}", config.channel().as_str()));
        let (owed, next) = self.owed_on(config.channel());
        v["owed"] = json!(owed);
        v["next_attempt_at"] = json!(next.map(crate::time::rfc3339));
        v
    }
}

/// A channel name of the channel routes (404 for others).
fn known_channel(name: &str) -> Result<Channel, ApiError> {
    Channel::parse(name).ok_or_else(|| ApiError::not_found(format!("channel {name}")))
}

/// Pasted credentials often carry stray spaces; ids and URLs never do.
fn trim_config(config: &mut ChannelConfig) {
    fn t(s: &mut String) {
        *s = s.trim().to_string();
    }
    fn base(b: &mut Option<String>) {
        *b = b
            .as_deref()
            .map(|x| x.trim().trim_end_matches('/').to_string())
            .filter(|x| !x.is_empty());
    }
    match config {
        ChannelConfig::Messenger(c) => {
            for f in [
                &mut c.page_id,
                &mut c.app_secret,
                &mut c.verify_token,
                &mut c.page_access_token,
                &mut c.group,
            ] {
                t(f);
            }
            base(&mut c.api_base);
        }
        ChannelConfig::Whatsapp(c) => {
            for f in [
                &mut c.phone_number_id,
                &mut c.app_secret,
                &mut c.verify_token,
                &mut c.access_token,
                &mut c.group,
            ] {
                t(f);
            }
            base(&mut c.api_base);
        }
        ChannelConfig::Vk(c) => {
            for f in [
                &mut c.community_id,
                &mut c.confirmation,
                &mut c.secret,
                &mut c.access_token,
                &mut c.group,
            ] {
                t(f);
            }
            base(&mut c.api_base);
        }
    }
}
