//! Every text an operator reads, in English and Czech, side by side so that a missing
//! translation is a compile error rather than an English word on a Czech screen. The language
//! starts from `navigator.language` and can be switched at any time; test ids never change.

use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Cs,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Cs => "cs",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("cs") | Some("sk") => Some(Lang::Cs),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }

    /// The session's choice if the operator switched, else the browser's language.
    pub fn initial() -> Lang {
        crate::api::session_get(LANG_KEY)
            .and_then(|c| Lang::from_code(&c))
            .or_else(|| {
                window()
                    .navigator()
                    .language()
                    .and_then(|l| Lang::from_code(&l))
            })
            .unwrap_or(Lang::En)
    }

    pub fn remember(self) {
        crate::api::session_set(LANG_KEY, self.code());
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", self.code());
        }
    }
}

const LANG_KEY: &str = "lobby.lang";

macro_rules! texts {
    ($($key:ident => $en:literal, $cs:literal;)*) => {
        /// A visible text of the app.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text { $($key),* }

        impl Text {
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Text::$key, Lang::En) => $en, (Text::$key, Lang::Cs) => $cs,)*
                }
            }
        }
    };
}

texts! {
    SignIn => "Sign in", "Přihlásit se";
    SignOut => "Sign out", "Odhlásit se";
    Tenant => "Company", "Společnost";
    Email => "E-mail", "E-mail";
    Password => "Password", "Heslo";
    SigningIn => "Signing in…", "Přihlašuji…";
    LoginFailed => "Wrong company, e-mail or password.", "Špatná společnost, e-mail nebo heslo.";
    Online => "Online", "Online";
    Away => "Away", "Nepřítomen";
    Offline => "Offline", "Offline";
    Status => "Status", "Stav";
    Language => "Language", "Jazyk";
    Connected => "Connected", "Připojeno";
    Reconnecting => "Reconnecting…", "Obnovuji spojení…";
    NavQueue => "Queue", "Fronta";
    NavAdmin => "Administration", "Administrace";
    WaitingQueue => "Waiting clients", "Čekající klienti";
    QueueEmpty => "Nobody is waiting.", "Nikdo nečeká.";
    Accept => "Accept", "Přijmout";
    Preview => "Preview", "Náhled";
    Redirect => "Redirect", "Přesměrovat";
    Close => "Close", "Zavřít";
    Cancel => "Cancel", "Zrušit";
    Position => "Position", "Pořadí";
    Waiting => "Waiting", "Čeká";
    Unknown => "unknown", "neznámé";
    NoName => "Anonymous", "Anonym";
    ClientInfo => "Client", "Klient";
    PastSessions => "Past sessions", "Předchozí relace";
    NoPastSessions => "No past sessions.", "Žádné předchozí relace.";
    Browsing => "Browsing history", "Historie prohlížení";
    NoBrowsing => "No pages visited yet.", "Zatím žádné navštívené stránky.";
    Tags => "Tags", "Štítky";
    NoTags => "No tags.", "Žádné štítky.";
    Params => "Call parameters", "Parametry hovoru";
    NoParams => "No call parameters.", "Žádné parametry hovoru.";
    Notes => "Notes", "Poznámky";
    NoNotes => "No notes.", "Žádné poznámky.";
    Chat => "Chat so far", "Dosavadní chat";
    NoMessages => "No messages yet.", "Zatím žádné zprávy.";
    DeliverySent => "sent", "odesláno";
    DeliveryDelivered => "delivered", "doručeno";
    DeliveryRead => "read", "přečteno";
    DeliveryFailed => "not delivered", "nedoručeno";
    Loading => "Loading…", "Načítám…";
    Name => "Name", "Jméno";
    Phone => "Phone", "Telefon";
    Browser => "Browser", "Prohlížeč";
    Os => "Operating system", "Operační systém";
    Widget => "Widget", "Widget";
    Entry => "Entry", "Vstup";
    Page => "Page", "Stránka";
    EnteredAt => "Entered", "Vstoupil";
    Group => "Group", "Skupina";
    Operator => "Operator", "Operátor";
    Open => "open", "otevřená";
    NoChats => "Accept a waiting client to start a conversation.", "Přijměte čekajícího klienta a začněte konverzaci.";
    Chats => "Chats", "Chaty";
    TypeMessage => "Type a message…", "Napište zprávu…";
    Send => "Send", "Odeslat";
    Emoji => "Emoji", "Emoji";
    AddTag => "Add tag", "Přidat štítek";
    NewTag => "New tag", "Nový štítek";
    AddNote => "Add note", "Přidat poznámku";
    NewNote => "Note for colleagues", "Poznámka pro kolegy";
    CloseSession => "Close session", "Ukončit relaci";
    SessionEnded => "This session has ended.", "Tato relace skončila.";
    EndedByClient => "The client left the conversation.", "Klient opustil konverzaci.";
    CloseTab => "Close tab", "Zavřít kartu";
    RedirectTitle => "Redirect the client", "Přesměrovat klienta";
    RedirectTo => "To a group or an operator", "Do skupiny nebo k operátorovi";
    Groups => "Groups", "Skupiny";
    Operators => "Operators", "Operátoři";
    NoteOptional => "Note for the next operator (optional)", "Poznámka pro dalšího operátora (nepovinná)";
    Load => "chats", "chatů";
    Choose => "Choose…", "Vyberte…";
    ErrAlreadyAccepted => "This client was already accepted by another operator.", "Tohoto klienta už přijal jiný operátor.";
    ErrCapacity => "You cannot accept another client now: you are at your limit.", "Teď nemůžete přijmout dalšího klienta: jste na svém limitu.";
    ErrChatLimit => "You cannot accept another chat: you already serve {n}, which is your chat limit. Close a chat first.", "Další chat nemůžete přijmout: už obsluhujete {n}, což je váš limit chatů. Nejdřív některý chat ukončete.";
    ErrCallAlone => "A video or phone call is served alone: you can accept it only with no other active chat. Close your chats first.", "Videohovor nebo telefonát se obsluhuje samostatně: přijmout ho můžete, jen když nemáte žádný jiný aktivní chat. Nejdřív své chaty ukončete.";
    ErrInCall => "You are in a call, which is served alone: finish it before accepting another client.", "Máte hovor, který se obsluhuje samostatně: dokončete ho, než přijmete dalšího klienta.";
    ErrNotFound => "This client is no longer waiting.", "Tento klient už nečeká.";
    ErrNetwork => "The server cannot be reached. Try again in a moment.", "Server není dostupný. Zkuste to za chvíli znovu.";
    ErrGeneric => "The action failed:", "Akce se nezdařila:";
    TakenWhilePreviewing => "The client you were previewing was accepted by another operator.", "Klienta, kterého jste si prohlíželi, přijal jiný operátor.";
    Dismiss => "Dismiss", "Zavřít";
    NewClient => "A client is waiting", "Čeká klient";
    AdminGroups => "Groups", "Skupiny";
    AdminOperators => "Operators", "Operátoři";
    AdminWidgets => "Widgets", "Widgety";
    GroupName => "Group name", "Název skupiny";
    AddGroup => "Add group", "Přidat skupinu";
    Role => "Role", "Role";
    RoleOperator => "Operator", "Operátor";
    RoleAdmin => "Administrator", "Administrátor";
    ChatLimit => "Chat limit", "Limit chatů";
    AddOperator => "Add operator", "Přidat operátora";
    Save => "Save", "Uložit";
    Saved => "Saved.", "Uloženo.";
    WidgetName => "Widget name", "Název widgetu";
    Origins => "Allowed origins (one per line)", "Povolené domény (jedna na řádek)";
    OfflineEmail => "Offline form e-mail", "E-mail pro offline formulář";
    AddWidget => "Add widget", "Přidat widget";
    EmbedSnippet => "Embed on your website", "Vložte na svůj web";
    Copy => "Copy", "Kopírovat";
    Copied => "Copied", "Zkopírováno";
    Key => "Key", "Klíč";
    EntryWebchat => "WebChat", "WebChat";
    EntryVideo => "Video call", "Videohovor";
    EntryCallback => "Callback", "Zpětné volání";
    EntryInvitation => "Invitation", "Pozvánka";
    EntryMessenger => "Facebook Messenger", "Facebook Messenger";
    EntryWhatsapp => "WhatsApp", "WhatsApp";
    EntryApple => "Apple Messages", "Apple Messages";
    EntryVk => "VK", "VK";
    EntryPhone => "Phone call", "Telefonát";
    You => "You", "Vy";
    Typing => "The client is typing…", "Klient píše…";
    ClientParty => "Client", "Klient";
    Shortcuts => "Alt+N accepts the next client, Alt+1…9 switch tabs", "Alt+N přijme dalšího klienta, Alt+1…9 přepíná karty";
}

/// The current language.
pub fn lang() -> RwSignal<Lang> {
    crate::store::store().lang
}

/// A text that follows the language switch, for use in views: `{tr(Text::Accept)}`.
pub fn tr(key: Text) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = lang();
    move || key.get(lang.get())
}

/// The same, read now (inside a reactive closure it also follows the switch).
pub fn t(key: Text) -> &'static str {
    key.get(lang().get())
}
