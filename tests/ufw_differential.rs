//! Differential test: the same rule sets built through the ufw CLI and
//! through `harden apply` give byte-identical files and the same kernel
//! ruleset. Rule sets are generated from a fixed seed.
mod support;
use support::{sections, Ns};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One generated rule: the ufw command and the profile table.
struct Gen {
    cmd: String,
    toml: String,
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn gen_rule(rng: &mut Rng, base: u64) -> Gen {
    let action = *rng.pick(&["allow", "deny", "reject", "limit", "allow", "allow"]);
    let kind = rng.below(12);
    let p = base;
    let mut t = vec![format!("action = {}", q(action))];
    let mut c = String::new();
    let mut head = action.to_string();
    let (mut from, mut to, mut port, mut sport) = ("any".to_string(), "any".to_string(), p.to_string(), String::new());
    let mut proto: String;
    let mut comment = String::new();
    match kind {
        0 => proto = rng.pick(&["tcp", "udp", ""]).to_string(),
        1 => {
            port = format!("{p}:{}", p + 3);
            proto = rng.pick(&["tcp", "udp"]).to_string();
        }
        2 => {
            port = format!("{},{},{}", p + 2, p, p + 1);
            proto = rng.pick(&["tcp", "udp"]).to_string();
        }
        3 => {
            from = format!("10.{}.{}.{}/24", rng.below(250), rng.below(250), 1 + rng.below(250));
            proto = "tcp".into();
        }
        4 => {
            from = format!("2001:DB8:{:x}:0:0::{:x}/48", rng.below(65000), rng.below(9));
            proto = rng.pick(&["tcp", ""]).to_string();
        }
        5 => {
            let i = *rng.pick(&["eth0", "eth0.100", "wg0"]);
            head = format!("{action} in on {i}");
            t.push(format!("interface = {}", q(i)));
            proto = "tcp".into();
        }
        6 => {
            head = format!("{action} out");
            t.push("direction = \"out\"".into());
            to = format!("192.0.2.{}", 1 + rng.below(200));
            proto = "udp".into();
        }
        7 => {
            head = format!("route {action} in on eth0 out on eth1");
            t.push("route = true".into());
            t.push("interface = \"eth0\"".into());
            t.push("out_interface = \"eth1\"".into());
            to = "10.1.0.0/16".into();
            proto = "tcp".into();
        }
        8 => {
            let l = *rng.pick(&["log", "log-all"]);
            head = format!("{action} {l}");
            t.push(format!("log = {}", q(if l == "log" { "new" } else { "all" })));
            proto = rng.pick(&["tcp", ""]).to_string();
        }
        9 => {
            comment = format!("café ☕ 日本 \"{p}\" #x");
            proto = "tcp".into();
        }
        10 => {
            sport = "67".into();
            proto = "udp".into();
        }
        _ => {
            to = format!("2001:db8::{:x}", rng.below(4000) + 1);
            proto = "udp".into();
        }
    }
    if action == "limit" && proto.is_empty() {
        proto = "tcp".into();
    }
    c.push_str(&head);
    c.push_str(&format!(" from {from}"));
    if !sport.is_empty() {
        c.push_str(&format!(" port {sport}"));
        t.push(format!("from_port = {sport}"));
    }
    c.push_str(&format!(" to {to} port {port}"));
    if !proto.is_empty() {
        c.push_str(&format!(" proto {proto}"));
        t.push(format!("proto = {}", q(&proto)));
    }
    if port.contains([',', ':']) {
        t.push(format!("port = {}", q(&port)));
    } else {
        t.push(format!("port = {port}"));
    }
    if from != "any" {
        t.push(format!("from = {}", q(&from)));
    }
    if to != "any" {
        t.push(format!("to = {}", q(&to)));
    }
    if !comment.is_empty() {
        c.push_str(&format!(" comment '{comment}'"));
        t.push(format!("comment = {}", q(&comment)));
    }
    Gen { cmd: c, toml: format!("[[firewall.rules]]\n{}\n", t.join("\n")) }
}

const SETS: u64 = 30;
const RULES: u64 = 15;

fn one_set(seed: u64) {
    let mut rng = Rng(0x9e3779b97f4a7c15 ^ (seed * 0x100000001b3 + 1));
    let logging = *rng.pick(&["low", "medium", "off", "high", "full"]);
    let incoming = *rng.pick(&["deny", "reject", "allow", "deny"]);
    let outgoing = *rng.pick(&["allow", "deny", "allow"]);
    let routed = *rng.pick(&["deny", "allow", "reject", "deny"]);
    let rules: Vec<Gen> = (0..RULES).map(|i| gen_rule(&mut rng, 1000 + seed * 200 + i * 10)).collect();
    // harden must not refuse for lockout: these sets do not care about SSH.
    let mut profile = format!(
        "[firewall]\nenabled = true\nlogging = \"{logging}\"\n[firewall.defaults]\nincoming = \"{incoming}\"\noutgoing = \"{outgoing}\"\nrouted = \"{routed}\"\n"
    );
    for g in &rules {
        profile.push_str(&g.toml);
    }
    let mut cli = format!("ufw logging {logging} >/dev/null\nufw default {incoming} incoming >/dev/null\nufw default {outgoing} outgoing >/dev/null\nufw default {routed} routed >/dev/null\nufw --force enable >/dev/null\n");
    for g in &rules {
        cli.push_str(&format!("ufw {} >/dev/null || echo \"FAILED: ufw {}\"\n", g.cmd, g.cmd.replace('"', "\\\"")));
    }
    let dump = r#"
echo "=== user.rules"; cat /etc/ufw/user.rules
echo "=== user6.rules"; cat /etc/ufw/user6.rules
echo "=== ufw.conf"; cat /etc/ufw/ufw.conf
echo "=== default"; cat /etc/default/ufw
echo "=== k4"; iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
echo "=== k6"; ip6tables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
"#;
    // The kernel is compared after a `ufw reload` of the CLI's files: ufw's
    // incremental path can leave the kernel off its own files (adding a log
    // rule with logging off deletes the RETURN that the file keeps).
    let a = Ns::new().unwrap();
    let ra = a.run(&format!("{cli}ufw reload >/dev/null\n{dump}"));
    assert!(!ra.stdout.contains("FAILED"), "set {seed}: ufw refused a generated rule:\n{ra:?}");
    let b = Ns::new().unwrap();
    let pf = b.put("profile.toml", &profile);
    let rb = b.run(&format!("$H apply --allow-lockout --yes --profile {pf} > $W/apply.out 2>&1 || {{ echo APPLYFAILED; cat $W/apply.out; }}\n{dump}"));
    assert!(!rb.stdout.contains("APPLYFAILED"), "set {seed}: harden apply failed:\n{rb:?}\nprofile:\n{profile}");
    let (sa, sb) = (sections(&ra.stdout), sections(&rb.stdout));
    for k in ["user.rules", "user6.rules", "ufw.conf", "default", "k4", "k6"] {
        if sa[k] != sb[k] {
            let diff =
                similar::TextDiff::from_lines(&sa[k], &sb[k]).unified_diff().header("ufw CLI", "harden").to_string();
            panic!("set {seed}: {k} differs between the ufw CLI and harden:\n{diff}\ncommands:\n{cli}\nprofile:\n{profile}");
        }
    }
}

#[test]
fn harden_writes_what_the_ufw_cli_writes() {
    if Ns::new().is_none() {
        return;
    }
    // Two namespaces at a time: the machines have two cores.
    let seeds: Vec<u64> = (0..SETS).collect();
    for pair in seeds.chunks(2) {
        let hs: Vec<_> = pair.iter().map(|&s| std::thread::spawn(move || one_set(s))).collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}
