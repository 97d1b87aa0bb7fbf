//! How an error reaches the terminal: its chain of causes on one line, each cause once.

/// `err` and its causes joined by `: `, skipping a cause whose text the line already holds
/// (library errors often repeat their source's message, and SQLite's errors repeat
/// themselves: "database or disk is full" came out three times).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("database or disk is full")]
    struct Full;

    #[derive(Debug, thiserror::Error)]
    #[error("database db.sqlite: {0}")]
    struct Wrapper(#[source] Full);

    #[test]
    fn each_cause_once() {
        let err = anyhow::Error::new(Wrapper(Full)).context("cannot record the epoch");
        assert_eq!(
            one_line(&err),
            "cannot record the epoch: database db.sqlite: database or disk is full"
        );
        let plain = anyhow::anyhow!("a").context("b");
        assert_eq!(one_line(&plain), "b: a");
    }
}
