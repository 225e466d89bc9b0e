//! Hugging Face checkpoints that span files, read as one model: a model folder (what `save_pretrained`
//! writes, a Hub snapshot), a sharded set's index (`model.safetensors.index.json`,
//! `pytorch_model.bin.index.json`), or one shard of a `-00001-of-00005` set.
//!
//! A folder's weights are found in this order: `model.safetensors.index.json`, `model.safetensors`,
//! another single `*.safetensors.index.json`, the `*.safetensors` files (one file, or one shard set),
//! `pytorch_model.bin.index.json`, `pytorch_model.bin`, a single `*.gguf`. Every shard's header is
//! read (the data never is), and checked against the index: a missing shard, a tensor the index
//! places in a shard that does not hold it, or one tensor in two shards is an error naming it.
//!
//! `config.json` beside the weights, when there is one, gives the architecture
//! ([`super::hf_config`]) and the tie between the input embedding and the output head: transformers
//! leaves a tied head out of the file, and PyTorch counts it once, so it is shown, tied to the
//! embedding, and counted once.
//!
//! Bounds: at most [`MAX_SHARDS`] shards, an index of at most 100 MB, 256 MiB of headers in all, and
//! the tree budget shared by every shard.

use super::hf_config::HfConfig;
use super::safetensors::{self, Entry};
use super::sniff::{self, Format};
use super::torchscript::budget::{ByteTally, MODULE_COST, TreeBudget, module_count};
use super::torchscript::tensors::StorageView;
use super::{SourceError, gguf, torchscript};
use crate::summary::infer::{NamedTensor, TYPES_INFERRED_NOTE, tree_from_named_tensors};
use crate::summary::{LayerKind, ModelSummary, ModuleNode, SourceKind, TensorRecord};
use crate::units::thousands;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The most shards one checkpoint may have (the largest public ones have a few hundred).
pub const MAX_SHARDS: usize = 10_000;
/// The largest index read.
pub const MAX_INDEX_BYTES: u64 = 100_000_000;
/// The most header bytes read over all the shards.
pub const MAX_TOTAL_HEADER_BYTES: u64 = 256 << 20;
/// The most directory entries looked at in a folder.
const MAX_FOLDER_ENTRIES: usize = 100_000;

/// The weights a folder holds.
#[derive(Debug, Clone, PartialEq)]
enum Weights {
    /// One safetensors file, or every shard of a set, in order.
    Safetensors(Vec<PathBuf>),
    /// A sharded checkpoint's index: its shards are safetensors or `torch.save` files, told apart by
    /// their content.
    Index(PathBuf),
    Bin(PathBuf),
    Gguf(PathBuf),
}

/// Reads the model in a folder.
pub fn read_dir(dir: &Path) -> Result<ModelSummary, SourceError> {
    let names = list(dir)?;
    let weights = find_weights(dir, &names).map_err(|p| SourceError::format(dir, p))?;
    read_weights(dir, weights, config_beside(dir)?)
}

/// Reads the model a `config.json` describes, from the weights in its folder.
pub fn read_config(path: &Path) -> Result<ModelSummary, SourceError> {
    let dir = folder_of(path);
    let names = list(&dir)?;
    let weights = find_weights(&dir, &names).map_err(|p| {
        SourceError::format(
            path,
            format!("a Hugging Face config.json whose folder holds no weights: {p}"),
        )
    })?;
    read_weights(path, weights, config_beside(&dir)?)
}

/// Reads a sharded checkpoint from its index.
pub fn read_index(index: &Path) -> Result<ModelSummary, SourceError> {
    let dir = folder_of(index);
    read_weights(
        index,
        Weights::Index(index.to_path_buf()),
        config_beside(&dir)?,
    )
}

/// Reads a safetensors file: alone, or with the rest of its shard set when its name is
/// `<prefix>-00001-of-00005.safetensors` (through `<prefix>.safetensors.index.json` when there is one).
pub fn read_safetensors(path: &Path) -> Result<ModelSummary, SourceError> {
    let dir = folder_of(path);
    let weights = match shard_set(path).map_err(|p| SourceError::format(path, p))? {
        None => Weights::Safetensors(vec![path.to_path_buf()]),
        Some(set) => {
            let index = dir.join(format!("{}.safetensors.index.json", set.prefix));
            if index.is_file() {
                Weights::Index(index)
            } else {
                Weights::Safetensors(set.files(&dir))
            }
        }
    };
    read_weights(path, weights, config_beside(&dir)?)
}

/// Whether `path` is named as one shard of a set of `torch.save` files (`pytorch_model-00001-of-00002.bin`).
pub fn is_bin_shard(path: &Path) -> bool {
    matches!(shard_set(path), Ok(Some(set)) if set.extension == "bin")
}

/// Reads every `torch.save` shard of the set `path` belongs to.
pub fn read_bin_shards(path: &Path) -> Result<ModelSummary, SourceError> {
    let dir = folder_of(path);
    let set = shard_set(path)
        .map_err(|p| SourceError::format(path, p))?
        .ok_or_else(|| SourceError::format(path, "not a shard of a set"))?;
    let index = dir.join(format!("{}.bin.index.json", set.prefix));
    let config = config_beside(&dir)?;
    if index.is_file() {
        read_weights(path, Weights::Index(index), config)
    } else {
        read_bin(path, set.files(&dir), None, config)
    }
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The file names in a folder, sorted.
fn list(dir: &Path) -> Result<Vec<String>, SourceError> {
    let io = |source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if names.len() >= MAX_FOLDER_ENTRIES {
            return Err(SourceError::format(
                dir,
                format!("a folder of more than {MAX_FOLDER_ENTRIES} entries: not a model folder"),
            ));
        }
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The `config.json` in `dir`, when there is one.
fn config_beside(dir: &Path) -> Result<Option<HfConfig>, SourceError> {
    let path = dir.join("config.json");
    if !path.is_file() {
        return Ok(None);
    }
    HfConfig::read(&path)
        .map(Some)
        .map_err(|p| SourceError::format(path, p))
}

/// The weights in a folder, in the order the module doc gives.
fn find_weights(dir: &Path, names: &[String]) -> Result<Weights, String> {
    let has = |n: &str| names.iter().any(|x| x == n);
    let ending =
        |suffix: &str| -> Vec<&String> { names.iter().filter(|n| n.ends_with(suffix)).collect() };
    if has("model.safetensors.index.json") {
        return Ok(Weights::Index(dir.join("model.safetensors.index.json")));
    }
    if has("model.safetensors") {
        return Ok(Weights::Safetensors(vec![dir.join("model.safetensors")]));
    }
    if let [index] = ending(".safetensors.index.json")[..] {
        return Ok(Weights::Index(dir.join(index)));
    }
    let files = ending(".safetensors");
    match files[..] {
        [] => {}
        [one] => return Ok(Weights::Safetensors(vec![dir.join(one)])),
        _ => {
            let sets: HashSet<String> = files
                .iter()
                .filter_map(|f| shard_set(Path::new(f.as_str())).ok().flatten())
                .map(|s| s.prefix)
                .collect();
            if sets.len() == 1 {
                let set = shard_set(Path::new(files[0].as_str()))?.expect("a shard");
                if files.len() == set.total as usize {
                    return Ok(Weights::Safetensors(set.files(dir)));
                }
            }
            let shown: Vec<&str> = files.iter().take(5).map(|f| f.as_str()).collect();
            return Err(format!(
                "holds {} safetensors files that are not one shard set ({}{}): name the file to read",
                files.len(),
                shown.join(", "),
                if files.len() > 5 { ", …" } else { "" }
            ));
        }
    }
    if has("pytorch_model.bin.index.json") {
        return Ok(Weights::Index(dir.join("pytorch_model.bin.index.json")));
    }
    if has("pytorch_model.bin") {
        return Ok(Weights::Bin(dir.join("pytorch_model.bin")));
    }
    match ending(".gguf")[..] {
        [] => {}
        [one] => return Ok(Weights::Gguf(dir.join(one))),
        ref many => {
            return Err(format!(
                "holds {} GGUF files: name the one to read",
                many.len()
            ));
        }
    }
    Err(if has("saved_model.pb") {
        "a TensorFlow SavedModel folder, which tchinfo does not read".to_string()
    } else if has("tf_model.h5") || has("flax_model.msgpack") {
        "holds only TensorFlow or Flax weights (tf_model.h5, flax_model.msgpack), which tchinfo does not read".to_string()
    } else {
        "a folder without model weights (no *.safetensors, pytorch_model.bin or *.gguf in it)"
            .to_string()
    })
}

/// A shard's place in its set, from its name: `<prefix>-<i>-of-<n>.<extension>`.
#[derive(Debug, Clone, PartialEq)]
struct ShardSet {
    prefix: String,
    total: u64,
    /// Digits the numbers are written with (5 for Hugging Face's).
    width: usize,
    extension: String,
}

impl ShardSet {
    fn files(&self, dir: &Path) -> Vec<PathBuf> {
        (1..=self.total)
            .map(|i| {
                dir.join(format!(
                    "{}-{i:0w$}-of-{:0w$}.{}",
                    self.prefix,
                    self.total,
                    self.extension,
                    w = self.width
                ))
            })
            .collect()
    }
}

fn shard_set(path: &Path) -> Result<Option<ShardSet>, String> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return Ok(None);
    };
    let Some((left, total)) = stem.rsplit_once("-of-") else {
        return Ok(None);
    };
    let Some((prefix, index)) = left.rsplit_once('-') else {
        return Ok(None);
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(total) || !digits(index) {
        return Ok(None);
    }
    let (Ok(n), Ok(i)) = (total.parse::<u64>(), index.parse::<u64>()) else {
        return Ok(None);
    };
    if n == 0 || i == 0 || i > n {
        return Err(format!("named shard {i} of {n}, which no set has"));
    }
    if n > MAX_SHARDS as u64 {
        return Err(format!(
            "names a set of {n} shards, more than the {MAX_SHARDS} accepted"
        ));
    }
    Ok(Some(ShardSet {
        prefix: prefix.to_string(),
        total: n,
        width: total.len(),
        extension: extension.to_string(),
    }))
}

fn read_weights(
    shown: &Path,
    weights: Weights,
    config: Option<HfConfig>,
) -> Result<ModelSummary, SourceError> {
    match weights {
        Weights::Safetensors(files) => read_safetensors_shards(shown, &files, None, config),
        Weights::Index(index) => {
            let parsed = read_index_file(&index)?;
            let dir = folder_of(&index);
            let files: Vec<PathBuf> = parsed.shards.iter().map(|s| dir.join(s)).collect();
            // The first shard says what they all are.
            let first = &files[0];
            if !first.is_file() {
                return Err(missing_shard(shown, first, true));
            }
            let format = sniff::sniff(super::open_model_file(first)?, first).map_err(|source| {
                SourceError::Io {
                    path: first.clone(),
                    source,
                }
            })?;
            match format {
                Format::Safetensors => {
                    read_safetensors_shards(shown, &files, Some((&index, parsed)), config)
                }
                Format::TorchArchive => read_bin(shown, files, Some((&index, parsed)), config),
                other => Err(SourceError::format(
                    shown,
                    format!(
                        "shard {} is not safetensors or torch.save weights{}",
                        file_name(first),
                        match other {
                            Format::Other(what) => format!(" ({what})"),
                            _ => String::new(),
                        }
                    ),
                )),
            }
        }
        Weights::Bin(file) => read_bin(shown, vec![file], None, config),
        Weights::Gguf(file) => {
            let mut s = gguf::read_file(&file)?;
            s.name = shown.display().to_string();
            Ok(s)
        }
    }
}

/// A parsed index: which shard holds each tensor, the shards in order of first mention, and its
/// `metadata` as text.
#[derive(Debug, Default)]
pub struct Index {
    pub weight_map: Vec<(String, String)>,
    pub shards: Vec<String>,
    pub metadata: Vec<(String, String)>,
}

fn read_index_file(path: &Path) -> Result<Index, SourceError> {
    let fail = |p: String| SourceError::format(path, p);
    let file = super::open_model_file(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read the index: {e}")))?;
    if bytes.len() as u64 > MAX_INDEX_BYTES {
        return Err(fail(format!(
            "an index larger than {MAX_INDEX_BYTES} bytes: a damaged or hostile file"
        )));
    }
    parse_index(&bytes).map_err(fail)
}

/// Parses an index's JSON: which shard holds each tensor, every shard named a plain file beside it.
pub fn parse_index(bytes: &[u8]) -> Result<Index, String> {
    let mut index = Index::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de::Deserializer::deserialize_map(&mut de, IndexVisitor { out: &mut index })
        .and_then(|()| de.end())
        .map_err(|e| format!("not a sharded checkpoint's index: {e}"))?;
    if index.weight_map.is_empty() {
        return Err("the index's weight_map is empty".into());
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut shards = Vec::new();
    for (_, shard) in &index.weight_map {
        if seen.insert(shard) {
            if shard.is_empty()
                || shard.contains(['/', '\\', '\0'])
                || shard == "."
                || shard == ".."
            {
                return Err(format!(
                    "the index names '{shard}' as a shard: shards must sit beside the index"
                ));
            }
            if shards.len() == MAX_SHARDS {
                return Err(format!("the index names more than {MAX_SHARDS} shards"));
            }
            shards.push(shard.clone());
        }
    }
    index.shards = shards;
    Ok(index)
}

struct IndexVisitor<'a> {
    out: &'a mut Index,
}

impl<'de> Visitor<'de> for IndexVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a weight_map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "weight_map" => {
                    let entries: WeightMap = map.next_value()?;
                    self.out.weight_map = entries.0;
                }
                "metadata" => {
                    let m: serde_json::Map<String, serde_json::Value> =
                        map.next_value().unwrap_or_default();
                    self.out.metadata = m
                        .into_iter()
                        .map(|(k, v)| {
                            let text = match v {
                                serde_json::Value::String(s) => s,
                                other => other.to_string(),
                            };
                            (format!("index {k}"), text)
                        })
                        .collect();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `weight_map`: tensor names to shard file names, in order.
struct WeightMap(Vec<(String, String)>);

impl<'de> de::Deserialize<'de> for WeightMap {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WeightMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of tensor names to shard files")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WeightMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(WeightMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The file name of a shard path, for messages.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn missing_shard(shown: &Path, shard: &Path, by_index: bool) -> SourceError {
    SourceError::format(
        shown,
        format!(
            "shard {}{} is missing",
            file_name(shard),
            if by_index {
                ", named by the index,"
            } else {
                " of the set"
            }
        ),
    )
}

fn read_safetensors_shards(
    shown: &Path,
    files: &[PathBuf],
    index: Option<(&Path, Index)>,
    config: Option<HfConfig>,
) -> Result<ModelSummary, SourceError> {
    let fail = |p: String| SourceError::format(shown, p);
    let mut entries: Vec<Entry> = Vec::new();
    let mut metadata: Vec<(String, String)> = Vec::new();
    let mut header_bytes = 0u64;
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, file) in files.iter().enumerate() {
        if !file.is_file() {
            return Err(missing_shard(shown, file, index.is_some()));
        }
        let (header, _) = safetensors::read_header_of(file)?;
        header_bytes = header_bytes.saturating_add(header.header_bytes);
        if header_bytes > MAX_TOTAL_HEADER_BYTES {
            return Err(fail(format!(
                "the shards' headers add up to more than {} MiB: a damaged or hostile checkpoint",
                MAX_TOTAL_HEADER_BYTES >> 20
            )));
        }
        if i == 0 {
            metadata = header.metadata;
        }
        for e in header.tensors {
            if let Some(&j) = owner.get(&e.name) {
                return Err(fail(format!(
                    "tensor '{}' is in both {} and {}",
                    e.name,
                    file_name(&files[j]),
                    file_name(file)
                )));
            }
            owner.insert(e.name.clone(), i);
            entries.push(e);
        }
    }
    let mut notes = Vec::new();
    if let Some((_, index)) = &index {
        let position: HashMap<&str, usize> = files
            .iter()
            .enumerate()
            .map(|(i, _)| (index.shards[i].as_str(), i))
            .collect();
        let mut listed: HashSet<&str> = HashSet::with_capacity(index.weight_map.len());
        for (tensor, shard) in &index.weight_map {
            listed.insert(tensor);
            let want = position.get(shard.as_str()).copied();
            if owner.get(tensor).copied() != want {
                return Err(fail(format!(
                    "the index places tensor '{tensor}' in {shard}, which does not hold it"
                )));
            }
        }
        let unlisted: Vec<&Entry> = entries
            .iter()
            .filter(|e| !listed.contains(e.name.as_str()))
            .collect();
        if let Some(first) = unlisted.first() {
            notes.push(format!(
                "{} tensor{} in the shards (first '{}') {} not in the index; counted all the same",
                unlisted.len(),
                if unlisted.len() == 1 { "" } else { "s" },
                first.name,
                if unlisted.len() == 1 { "is" } else { "are" }
            ));
        }
        metadata.extend(index.metadata.iter().cloned());
    }
    if files.len() > 1 {
        metadata.insert(0, ("shards".to_string(), thousands(files.len() as u64)));
    }
    let mut tree = TreeBudget::default();
    let named = safetensors::named_tensors(entries, &mut tree).map_err(fail)?;
    notes.insert(0, TYPES_INFERRED_NOTE.to_string());
    notes.insert(1, safetensors::TRAINABLE_ASSUMED_NOTE.to_string());
    let mut s = build(
        shown,
        SourceKind::Safetensors,
        safetensors::ROOT_TYPE,
        named,
        None,
        config,
    );
    notes.append(&mut s.notes);
    s.notes = notes;
    s.file_metadata = metadata;
    Ok(s)
}

fn read_bin(
    shown: &Path,
    files: Vec<PathBuf>,
    index: Option<(&Path, Index)>,
    config: Option<HfConfig>,
) -> Result<ModelSummary, SourceError> {
    let fail = |p: String| SourceError::format(shown, p);
    let mut tree = TreeBudget::default();
    let mut tensors: Vec<NamedTensor> = Vec::new();
    let mut views: HashMap<String, StorageView> = HashMap::new();
    let mut notes: Vec<String> = Vec::new();
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut bytes = ByteTally::default();
    for (i, file) in files.iter().enumerate() {
        if !file.is_file() {
            return Err(missing_shard(shown, file, index.is_some()));
        }
        let part = torchscript::read_state_dict(file, &mut tree)?;
        for note in part.notes {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        // Storage keys are numbered per file: shards never share a tensor.
        for (name, mut view) in part.views {
            if let Some(key) = view.storage.take() {
                view.storage = Some(Rc::from(format!("{i}/{key}")));
            }
            views.insert(name, view);
        }
        for t in part.tensors {
            if let Some(&j) = owner.get(&t.name) {
                return Err(fail(format!(
                    "tensor '{}' is in both {} and {}",
                    t.name,
                    file_name(&files[j]),
                    file_name(file)
                )));
            }
            let numel = t.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
            bytes
                .add_sized(numel, numel.and_then(|n| t.dtype.bytes_for(n)))
                .map_err(fail)?;
            owner.insert(t.name.clone(), i);
            tensors.push(t);
        }
    }
    if let Some((_, index)) = &index {
        for (tensor, shard) in &index.weight_map {
            let want = index.shards.iter().position(|s| s == shard);
            if owner.get(tensor).copied() != want {
                return Err(fail(format!(
                    "the index places tensor '{tensor}' in {shard}, which does not hold it"
                )));
            }
        }
    }
    tree.charge(module_count(tensors.iter().map(|t| t.name.as_str())).saturating_mul(MODULE_COST))
        .map_err(fail)?;
    let mut s = build(
        shown,
        SourceKind::StateDict,
        torchscript::state_dict::ROOT_TYPE,
        tensors,
        Some(views),
        config,
    );
    notes.append(&mut s.notes);
    s.notes = notes;
    if files.len() > 1 {
        s.file_metadata
            .push(("shards".to_string(), thousands(files.len() as u64)));
    }
    if let Some((_, index)) = index {
        s.file_metadata.extend(index.metadata);
    }
    Ok(s)
}

/// The summary of named tensors, with the config's architecture and tied head applied.
fn build(
    shown: &Path,
    source: SourceKind,
    root_type: &str,
    tensors: Vec<NamedTensor>,
    views: Option<HashMap<String, StorageView>>,
    config: Option<HfConfig>,
) -> ModelSummary {
    // The class that loads the weights names the root, as PyTorch's own tree would.
    let root_type = config
        .as_ref()
        .and_then(|c| c.architectures.first().cloned())
        .unwrap_or_else(|| root_type.to_string());
    let mut s = ModelSummary::new(
        shown.display().to_string(),
        source,
        tree_from_named_tensors(&root_type, tensors),
    );
    if let Some(views) = views {
        s.mark_tied(|full| views.get(full).filter(|v| v.storage.is_some()).cloned());
    }
    if let Some(config) = config {
        if let Some(note) = tie_head(&mut s.root, &config) {
            s.notes.push(note);
        }
        s.architecture = Some(config.architecture());
    }
    s
}

/// Applies `tie_word_embeddings`: a head the weights hold is tied to the input embedding; a head they
/// leave out (as transformers saves a tied one) is added, tied. Either way it is counted once, as
/// PyTorch counts it.
fn tie_head(root: &mut ModuleNode, config: &HfConfig) -> Option<String> {
    if !config.ties_word_embeddings() {
        return None;
    }
    let vocab = config
        .vocab_size
        .or_else(|| config.text_config.as_ref()?.vocab_size);
    let (embed_path, embed) = input_embedding(root, vocab)?;
    let full = |p: &str| format!("{p}.weight");
    let embed_full = full(&embed_path);
    // A head the file holds.
    for candidate in HEADS {
        if let Some(node) = find_mut(root, candidate)
            && let Some(w) = node.parameters.iter_mut().find(|p| p.name == "weight")
            && w.shape == embed.shape
        {
            if w.tied_to.is_some() {
                return None;
            }
            w.tied_to = Some(embed_full.clone());
            return Some(format!(
                "config.json ties {} to {embed_full} (tie_word_embeddings): counted once, as PyTorch counts it",
                full(candidate)
            ));
        }
    }
    let (head_path, bias_owner) = missing_head(root, config)?;
    let bias = bias_owner.as_deref().and_then(|owner| {
        let node = root.find(owner)?;
        let b = node.parameters.iter().find(|p| p.name == "bias")?;
        Some((format!("{owner}.bias"), b.clone()))
    });
    let head = ensure_path(root, &head_path);
    if head.parameters.is_empty() && head.children.is_empty() {
        head.type_name = "Linear".into();
        head.kind = LayerKind::Linear;
    }
    head.parameters.insert(
        0,
        TensorRecord {
            name: "weight".into(),
            tied_to: Some(embed_full.clone()),
            ..embed
        },
    );
    if let Some((owner, b)) = bias {
        head.parameters.push(TensorRecord {
            name: "bias".into(),
            tied_to: Some(owner),
            ..b
        });
    }
    Some(format!(
        "the weights leave out {}, which config.json ties to {embed_full} (tie_word_embeddings): shown tied and counted once, as PyTorch counts it",
        full(&head_path)
    ))
}

/// Where transformers' classes keep a language model's output projection.
const HEADS: [&str; 9] = [
    "lm_head",
    "cls.predictions.decoder",
    "lm_head.decoder",
    "predictions.decoder",
    "vocab_projector",
    "generator_lm_head",
    "proj_out",
    "embed_out",
    "output",
];

/// The input embedding: an `Embedding` with `vocab` rows (the largest one when the vocabulary is not
/// stated), a token table before a position or token-type table (BERT's and GPT-2's can have as many
/// rows as the vocabulary), then the first in the tree.
fn input_embedding(root: &ModuleNode, vocab: Option<u64>) -> Option<(String, TensorRecord)> {
    let rank = |name: &str| {
        let lower = name.to_ascii_lowercase();
        if lower.contains("pos") || lower.contains("type") || lower == "wpe" {
            1
        } else {
            0
        }
    };
    let embeddings: Vec<(String, TensorRecord, u8)> = root
        .walk()
        .into_iter()
        .filter_map(|(_, n)| {
            let w = n.parameters.iter().find(|p| p.name == "weight")?;
            (n.kind == LayerKind::Embedding && w.shape.len() == 2 && w.tied_to.is_none())
                .then(|| (n.path.clone(), w.clone(), rank(&n.name)))
        })
        .collect();
    let best = match vocab {
        Some(v) => embeddings
            .into_iter()
            .filter(|(_, w, _)| w.shape[0] == v)
            .min_by_key(|(_, _, r)| *r),
        None => embeddings
            .into_iter()
            .min_by_key(|(_, w, r)| (*r, std::cmp::Reverse(w.numel()))),
    };
    best.map(|(p, w, _)| (p, w))
}

/// Where a tied head the file leaves out belongs, and which module owns the bias it shares (BERT's
/// `cls.predictions.bias`): from what the file holds around it, else `lm_head` for a class with an
/// LM head.
fn missing_head(root: &ModuleNode, config: &HfConfig) -> Option<(String, Option<String>)> {
    let own_bias_only = |n: &ModuleNode| {
        n.parameters.iter().any(|p| p.name == "bias")
            && !n.parameters.iter().any(|p| p.name == "weight")
    };
    // BERT's `cls.predictions`, RoBERTa's `lm_head`, ALBERT's `predictions`: a transform (`dense`)
    // and a bias, the decoder left out.
    for owner in ["cls.predictions", "lm_head", "predictions"] {
        if let Some(n) = root.find(owner)
            && own_bias_only(n)
            && n.children
                .iter()
                .any(|c| c.name == "dense" || c.name == "transform")
        {
            return Some((format!("{owner}.decoder"), Some(owner.to_string())));
        }
    }
    // DistilBERT's `vocab_projector`, ELECTRA's `generator_lm_head`: the bias kept, the weight not.
    for owner in ["vocab_projector", "generator_lm_head"] {
        if let Some(n) = root.find(owner)
            && own_bias_only(n)
        {
            return Some((owner.to_string(), None));
        }
    }
    if !config.has_lm_head() {
        return None;
    }
    let path = match config.model_type.as_deref() {
        Some("whisper") => "proj_out",
        _ => "lm_head",
    };
    Some((path.to_string(), None))
}

fn find_mut<'a>(node: &'a mut ModuleNode, path: &str) -> Option<&'a mut ModuleNode> {
    if node.path == path {
        return Some(node);
    }
    node.children
        .iter_mut()
        .find(|c| path == c.path || path.starts_with(&format!("{}.", c.path)))
        .and_then(|c| find_mut(c, path))
}

/// The module at `path`, made (a plain `Module` at each missing level) when the tree lacks it.
fn ensure_path<'a>(root: &'a mut ModuleNode, path: &str) -> &'a mut ModuleNode {
    let mut node = root;
    for seg in path.split('.') {
        let child_path = node.child_path(seg);
        let at = match node.children.iter().position(|c| c.name == seg) {
            Some(i) => i,
            None => {
                node.children
                    .push(ModuleNode::new(seg, child_path, "Module"));
                node.children.len() - 1
            }
        };
        node = &mut node.children[at];
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    fn t(name: &str, shape: &[u64]) -> NamedTensor {
        NamedTensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: DType::Float32,
            requires_grad: true,
        }
    }

    fn config(json: &str) -> HfConfig {
        HfConfig::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn shard_names_give_their_set() {
        let set = shard_set(Path::new("d/model-00002-of-00003.safetensors"))
            .unwrap()
            .unwrap();
        assert_eq!(set.prefix, "model");
        let files: Vec<String> = set
            .files(Path::new("d"))
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "d/model-00001-of-00003.safetensors",
                "d/model-00002-of-00003.safetensors",
                "d/model-00003-of-00003.safetensors"
            ]
        );
        assert!(shard_set(Path::new("model.safetensors")).unwrap().is_none());
        assert!(shard_set(Path::new("a-00004-of-00003.safetensors")).is_err());
        assert!(shard_set(Path::new("a-1-of-99999999.safetensors")).is_err());
        assert!(is_bin_shard(Path::new("pytorch_model-00001-of-00002.bin")));
    }

    #[test]
    fn an_index_must_keep_its_shards_beside_it() {
        let ok = parse_index(
            br#"{"metadata":{"total_size":8},"weight_map":{"a":"s1","b":"s2","c":"s1"}}"#,
        )
        .unwrap();
        assert_eq!(ok.shards, ["s1", "s2"]);
        assert_eq!(
            ok.metadata,
            [("index total_size".to_string(), "8".to_string())]
        );
        for bad in ["../x.safetensors", "/etc/passwd", "a/b", ".."] {
            let json = format!(r#"{{"weight_map":{{"a":"{bad}"}}}}"#);
            let e = parse_index(json.as_bytes()).unwrap_err();
            assert!(e.contains("must sit beside the index"), "{e}");
        }
        assert!(
            parse_index(br#"{"weight_map":{}}"#)
                .unwrap_err()
                .contains("empty")
        );
        assert!(parse_index(br#"{"weight_map":{"a":1}}"#).is_err());
    }

    #[test]
    fn a_tied_head_left_out_is_shown_tied_and_counted_once() {
        let named = vec![
            t("model.embed_tokens.weight", &[128, 32]),
            t("model.norm.weight", &[32]),
        ];
        let c = config(
            r#"{"architectures":["LlamaForCausalLM"],"vocab_size":128,"tie_word_embeddings":true}"#,
        );
        let s = build(
            Path::new("m"),
            SourceKind::Safetensors,
            "S",
            named.clone(),
            None,
            Some(c),
        );
        assert_eq!(s.root.type_name, "LlamaForCausalLM");
        let head = s.root.find("lm_head").unwrap();
        assert_eq!(head.type_name, "Linear");
        assert_eq!(
            head.parameters[0].tied_to.as_deref(),
            Some("model.embed_tokens.weight")
        );
        let t = s.totals();
        assert_eq!(t.params, 128 * 32 + 32);
        assert_eq!(t.tied_params, 128 * 32);
        // Not tied: nothing added.
        let c = config(r#"{"architectures":["LlamaForCausalLM"],"tie_word_embeddings":false}"#);
        let s = build(
            Path::new("m"),
            SourceKind::Safetensors,
            "S",
            named.clone(),
            None,
            Some(c),
        );
        assert!(s.root.find("lm_head").is_none());
        // A base model has no head to add.
        let c = config(r#"{"architectures":["LlamaModel"]}"#);
        let s = build(
            Path::new("m"),
            SourceKind::Safetensors,
            "S",
            named,
            None,
            Some(c),
        );
        assert!(s.root.find("lm_head").is_none());
    }

    #[test]
    fn bert_s_decoder_shares_the_embedding_and_the_prediction_bias() {
        let named = vec![
            t("bert.embeddings.word_embeddings.weight", &[128, 32]),
            t("bert.embeddings.position_embeddings.weight", &[64, 32]),
            t("cls.predictions.bias", &[128]),
            t("cls.predictions.transform.dense.weight", &[32, 32]),
            t("cls.predictions.transform.dense.bias", &[32]),
        ];
        let c = config(r#"{"architectures":["BertForMaskedLM"],"vocab_size":128}"#);
        let s = build(
            Path::new("m"),
            SourceKind::Safetensors,
            "S",
            named,
            None,
            Some(c),
        );
        let decoder = s.root.find("cls.predictions.decoder").unwrap();
        let tied: Vec<(&str, Option<&str>)> = decoder
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.tied_to.as_deref()))
            .collect();
        assert_eq!(
            tied,
            [
                ("weight", Some("bert.embeddings.word_embeddings.weight")),
                ("bias", Some("cls.predictions.bias"))
            ]
        );
        assert_eq!(s.totals().params, 128 * 32 + 64 * 32 + 128 + 32 * 32 + 32);
    }

    #[test]
    fn a_head_the_file_holds_is_tied_when_the_config_says_so() {
        let named = vec![
            t("transformer.wte.weight", &[128, 32]),
            t("lm_head.weight", &[128, 32]),
        ];
        let c = config(r#"{"architectures":["GPT2LMHeadModel"],"vocab_size":128}"#);
        let s = build(
            Path::new("m"),
            SourceKind::Safetensors,
            "S",
            named,
            None,
            Some(c),
        );
        assert_eq!(s.totals().params, 128 * 32);
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains("config.json ties lm_head.weight"))
        );
    }
}
