//! The tray as a desktop shell sees it, for driving the app's tray menu in a test. The test
//! owns `org.kde.StatusNotifierWatcher` on the session bus, so the app's indicator registers
//! its item with it (instead of falling back to an XEmbed icon no test can read); the item's
//! menu is then read and clicked over `com.canonical.dbusmenu`, exactly as a panel does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// Items registered with the watcher: (the registering connection's name, the item's path).
type Items = Arc<Mutex<Vec<(String, String)>>>;

struct Watcher {
    items: Items,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(ToString::to_string).unwrap_or_default();
        // An item names itself by an object path (on its own connection) or by a bus name.
        let item = if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_owned())
        };
        self.items.lock().expect("items").push(item);
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        let items = self.items.lock().expect("items");
        items
            .iter()
            .map(|(name, path)| format!("{name}{path}"))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The watcher, serving on the session bus at `address` until dropped.
pub struct TrayWatcher {
    connection: zbus::Connection,
    items: Items,
}

/// One entry of a tray menu.
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
}

impl TrayWatcher {
    pub async fn start(address: &str) -> TrayWatcher {
        let items = Items::default();
        let connection = zbus::connection::Builder::address(address)
            .expect("a bus address")
            .name("org.kde.StatusNotifierWatcher")
            .expect("a well-known name")
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: Arc::clone(&items),
                },
            )
            .expect("the watcher object")
            .build()
            .await
            .expect("the watcher on the session bus");
        TrayWatcher { connection, items }
    }

    /// The first registered item's menu: (its connection's name, the menu's path).
    async fn menu_path(&self) -> (String, OwnedObjectPath) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (name, path) = loop {
            if let Some(item) = self.items.lock().expect("items").first().cloned() {
                break item;
            }
            assert!(
                Instant::now() < deadline,
                "no tray item registered with the watcher"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let item = zbus::Proxy::new(
            &self.connection,
            name.clone(),
            path,
            "org.kde.StatusNotifierItem",
        )
        .await
        .expect("the tray item");
        let menu: OwnedObjectPath = item.get_property("Menu").await.expect("its menu");
        (name, menu)
    }

    async fn menu_proxy(&self) -> zbus::Proxy<'static> {
        let (name, path) = self.menu_path().await;
        zbus::Proxy::new_owned(
            self.connection.clone(),
            name,
            path,
            "com.canonical.dbusmenu".to_owned(),
        )
        .await
        .expect("the tray menu")
    }

    /// The menu's entries, top level, separators left out.
    pub async fn entries(&self) -> Vec<MenuEntry> {
        type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
        let menu = self.menu_proxy().await;
        // The panel asks for the whole tree before it shows the menu.
        let _: bool = menu.call("AboutToShow", &(0i32,)).await.unwrap_or_default();
        let (_revision, (_, _, children)): (u32, Layout) = menu
            .call("GetLayout", &(0i32, 1i32, Vec::<String>::new()))
            .await
            .expect("the menu's layout");
        children
            .into_iter()
            .filter_map(|child| {
                let (id, properties, _): Layout = child.try_into().ok()?;
                let text = |name: &str| {
                    properties
                        .get(name)
                        .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
                };
                if text("type").as_deref() == Some("separator") {
                    return None;
                }
                let enabled = properties
                    .get("enabled")
                    .and_then(|v| bool::try_from(v).ok())
                    .unwrap_or(true);
                Some(MenuEntry {
                    id,
                    label: text("label").unwrap_or_default(),
                    enabled,
                })
            })
            .collect()
    }

    /// Clicks the entry whose label is `label`, as a panel does.
    pub async fn click(&self, label: &str) {
        let entries = self.entries().await;
        let entry = entries
            .iter()
            .find(|e| e.label == label)
            .unwrap_or_else(|| panic!("no {label:?} in the tray menu: {entries:?}"));
        let menu = self.menu_proxy().await;
        let () = menu
            .call("Event", &(entry.id, "clicked", Value::I32(0), 0u32))
            .await
            .expect("the click delivered");
    }
}
