//! [`RetrievalSet`]: queries, a corpus and the documents relevant to each
//! query, as sentence-transformers' `InformationRetrievalEvaluator` takes
//! them: read from BEIR's files, or built from (anchor, positive[,
//! negatives]) rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::files::row_error;
use super::{DatasetError, Origin, TextTuple};

/// Queries and a corpus, each `(id, text)` in order, and the ids of the
/// documents relevant to each query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetrievalSet {
    /// The queries.
    pub queries: Vec<(String, String)>,
    /// The documents.
    pub corpus: Vec<(String, String)>,
    /// Query id to the ids of its relevant documents.
    pub relevant: BTreeMap<String, BTreeSet<String>>,
}

/// Zero-padded, so that ids order as their numbers do (ties in a ranking
/// are broken by id, as sentence-transformers does).
fn numbered(index: usize) -> String {
    format!("{index:08}")
}

impl RetrievalSet {
    /// Each distinct anchor (first text) is a query, each distinct other
    /// text a document (a text may be both); a row's positive (second
    /// text) is relevant to its anchor, its negatives are not.
    pub fn from_tuples(rows: &[TextTuple]) -> Self {
        let mut set = Self::default();
        let mut query_ids: HashMap<&str, String> = HashMap::new();
        let mut document_ids: HashMap<&str, String> = HashMap::new();
        for row in rows {
            let Some((anchor, documents)) = row.texts.split_first() else {
                continue;
            };
            let query = query_ids.entry(anchor).or_insert_with(|| {
                let id = numbered(set.queries.len());
                set.queries.push((id.clone(), anchor.clone()));
                id
            });
            for (index, document) in documents.iter().enumerate() {
                let id = document_ids.entry(document).or_insert_with(|| {
                    let id = numbered(set.corpus.len());
                    set.corpus.push((id.clone(), document.clone()));
                    id
                });
                if index == 0 {
                    set.relevant
                        .entry(query.clone())
                        .or_default()
                        .insert(id.clone());
                }
            }
        }
        set
    }

    /// Reads BEIR's layout: `queries.jsonl` (`_id`, `text`), `corpus.jsonl`
    /// (`_id`, optional `title`, `text`; a document is its title and text
    /// joined by a space) and a qrels TSV (`query-id`, `corpus-id`, `score`
    /// with a header row; a score above 0 is relevant). Errors name the
    /// file and line; a qrels id absent from its file is an error.
    pub fn read_beir(queries: &Path, corpus: &Path, qrels: &Path) -> Result<Self, DatasetError> {
        let queries = read_jsonl_texts(queries)?;
        let corpus = read_jsonl_texts(corpus)?;
        let known = |items: &[(String, String)]| -> BTreeSet<String> {
            items.iter().map(|(id, _)| id.clone()).collect()
        };
        let relevant = read_qrels(qrels, &known(&queries), &known(&corpus))?;
        Ok(Self {
            queries,
            corpus,
            relevant,
        })
    }
}

fn file_error(path: &Path, message: String) -> DatasetError {
    DatasetError::File {
        path: path.display().to_string(),
        message,
    }
}

/// `(_id, text)` of every JSON line of a BEIR file, a title put before its text.
fn read_jsonl_texts(path: &Path) -> Result<Vec<(String, String)>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
    let file: Arc<str> = path.display().to_string().into();
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let origin = Origin::line(file.clone(), index + 1);
        let object: serde_json::Map<String, Value> = serde_json::from_str(line)
            .map_err(|e| row_error(&origin, format!("expected a JSON object: {e}")))?;
        let field = |key: &str| match object.get(key) {
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(Value::Number(n)) if key == "_id" => Ok(Some(n.to_string())),
            None | Some(Value::Null) => Ok(None),
            Some(other) => Err(row_error(
                &origin,
                format!("{key:?} must be a string, got {other}"),
            )),
        };
        let id = field("_id")?.ok_or_else(|| row_error(&origin, "missing key \"_id\""))?;
        let body = field("text")?.unwrap_or_default();
        let joined = match field("title")? {
            Some(title) if !title.is_empty() => format!("{title} {body}").trim().to_string(),
            _ => body,
        };
        if joined.is_empty() {
            return Err(row_error(&origin, "empty \"text\""));
        }
        items.push((id, joined));
    }
    if items.is_empty() {
        return Err(file_error(path, "no entries".into()));
    }
    Ok(items)
}

/// The relevant documents of each query in a qrels TSV.
fn read_qrels(
    path: &Path,
    queries: &BTreeSet<String>,
    corpus: &BTreeSet<String>,
) -> Result<BTreeMap<String, BTreeSet<String>>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
    let file: Arc<str> = path.display().to_string().into();
    let mut relevant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let origin = Origin::line(file.clone(), index + 1);
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if line.trim().is_empty() || (index == 0 && fields.first() == Some(&"query-id")) {
            continue;
        }
        let [query, document, score] = fields[..] else {
            return Err(row_error(
                &origin,
                format!(
                    "expected query-id, corpus-id and score separated by tabs, got {} fields",
                    fields.len()
                ),
            ));
        };
        let score: f64 = score
            .parse()
            .map_err(|_| row_error(&origin, format!("score {score:?} is not a number")))?;
        for (id, known, what) in [(query, queries, "query"), (document, corpus, "document")] {
            if !known.contains(id) {
                return Err(row_error(&origin, format!("no {what} with _id {id:?}")));
            }
        }
        if score > 0.0 {
            relevant
                .entry(query.to_string())
                .or_default()
                .insert(document.to_string());
        }
    }
    if relevant.is_empty() {
        return Err(file_error(
            path,
            "no relevant (query, document) pair".into(),
        ));
    }
    Ok(relevant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(texts: &[&str]) -> TextTuple {
        TextTuple {
            texts: texts.iter().map(|t| t.to_string()).collect(),
            score: None,
            origin: Origin::line("t.csv".into(), 2),
        }
    }

    #[test]
    fn rows_make_queries_documents_and_their_positives() {
        let set = RetrievalSet::from_tuples(&[
            row(&["q1", "p1", "n1"]),
            row(&["q2", "p2", "p1"]),
            row(&["q1", "p3"]),
        ]);
        let texts = |items: &[(String, String)]| -> Vec<String> {
            items.iter().map(|(_, t)| t.clone()).collect()
        };
        assert_eq!(texts(&set.queries), ["q1", "q2"]);
        assert_eq!(texts(&set.corpus), ["p1", "n1", "p2", "p3"]);
        let ids =
            |ids: &[&str]| -> BTreeSet<String> { ids.iter().map(|s| s.to_string()).collect() };
        assert_eq!(set.relevant["00000000"], ids(&["00000000", "00000003"]));
        assert_eq!(set.relevant["00000001"], ids(&["00000002"]));
    }

    #[test]
    fn reads_beir_files_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(
            path("queries.jsonl"),
            "{\"_id\": \"1\", \"text\": \"what is rust\"}\n{\"_id\": \"2\", \"text\": \"burn\"}\n",
        )
        .unwrap();
        std::fs::write(
            path("corpus.jsonl"),
            "{\"_id\": \"a\", \"title\": \"Rust\", \"text\": \"a language\"}\n{\"_id\": \"b\", \"text\": \"a fire\"}\n",
        )
        .unwrap();
        std::fs::write(
            path("qrels.tsv"),
            "query-id\tcorpus-id\tscore\n1\ta\t1\n2\tb\t0\n",
        )
        .unwrap();
        let set = RetrievalSet::read_beir(
            &path("queries.jsonl"),
            &path("corpus.jsonl"),
            &path("qrels.tsv"),
        )
        .unwrap();
        assert_eq!(set.corpus[0].1, "Rust a language");
        assert_eq!(set.relevant.len(), 1, "a score of 0 is not relevant");
        std::fs::write(path("qrels.tsv"), "query-id\tcorpus-id\tscore\n1\tz\t1\n").unwrap();
        let err = RetrievalSet::read_beir(
            &path("queries.jsonl"),
            &path("corpus.jsonl"),
            &path("qrels.tsv"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("qrels.tsv:2: no document with _id \"z\""),
            "{err}"
        );
    }
}
