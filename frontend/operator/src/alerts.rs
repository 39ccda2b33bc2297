//! How a new waiting client gets the operator's attention: a short beep (WebAudio, no sound
//! file to download), a desktop notification when the app's tab is hidden (with permission,
//! asked at sign-in), and the count in the page title (`(3) Lobby`, kept by the app).

use std::cell::RefCell;

use leptos::prelude::*;
use lobby_wire::QueueItem;
use web_sys::{
    AudioContext, Notification, NotificationOptions, NotificationPermission, OscillatorType,
};

use crate::i18n::{t, Text};

thread_local! {
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Asks for permission to show desktop notifications; call it from a user gesture (sign-in).
pub fn ask_permission() {
    if Notification::permission() == NotificationPermission::Default {
        let _ = Notification::request_permission();
    }
    // Browsers let audio start only after a gesture: create the context now.
    let _ = audio();
}

fn audio() -> Option<AudioContext> {
    AUDIO.with_borrow_mut(|a| {
        if a.is_none() {
            *a = AudioContext::new().ok();
        }
        a.clone()
    })
}

/// Two short tones, quiet enough for a headset.
pub fn beep() {
    let Some(ctx) = audio() else { return };
    let _ = ctx.resume();
    let start = ctx.current_time();
    for (i, freq) in [880.0f32, 1320.0].into_iter().enumerate() {
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
            return;
        };
        osc.set_type(OscillatorType::Sine);
        osc.frequency().set_value(freq);
        let at = start + i as f64 * 0.16;
        let g = gain.gain();
        g.set_value(0.0);
        let _ = g.set_value_at_time(0.0, at);
        let _ = g.linear_ramp_to_value_at_time(0.12, at + 0.02);
        let _ = g.linear_ramp_to_value_at_time(0.0, at + 0.14);
        if osc.connect_with_audio_node(&gain).is_err()
            || gain.connect_with_audio_node(&ctx.destination()).is_err()
        {
            return;
        }
        let _ = osc.start_with_when(at);
        let _ = osc.stop_with_when(at + 0.15);
    }
}

pub fn new_client(client: &QueueItem) {
    beep();
    if document().hidden() && Notification::permission() == NotificationPermission::Granted {
        let body = [
            client.name.as_deref(),
            client.phone.as_deref(),
            client.widget.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        let opts = NotificationOptions::new();
        opts.set_body(&body);
        opts.set_tag(&format!("lobby-{}", client.id));
        let _ = Notification::new_with_options(t(Text::NewClient), &opts);
    }
}

/// `Lobby`, with the number of waiting clients in front when there are any.
pub fn title(waiting: usize) -> String {
    if waiting == 0 {
        "Lobby".to_string()
    } else {
        format!("({waiting}) Lobby")
    }
}
