//! Tables: Parquet files and Arrow IPC files or streams (what the Hugging
//! Face hub and the `datasets` cache hold), read as rows of JSON values with
//! their `ClassLabel` ids turned into label names.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, OffsetSizeTrait, RecordBatch};
use arrow_schema::{ArrowError, DataType, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Number, Value};

use super::features::{METADATA_KEY, class_names};
use super::{DatasetError, Origin};

/// The first bytes of an Arrow IPC file; a stream starts with a message.
const ARROW_FILE_MAGIC: &[u8] = b"ARROW1";

/// One row of a table: where it is and its values by column.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRow {
    /// The file and 1-based row.
    pub origin: Origin,
    /// The values of the columns read, `ClassLabel` ids as their names
    /// (`null` for -1, the id of an unlabelled row).
    pub values: Map<String, Value>,
}

/// How a table file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Parquet,
    ArrowFile,
    ArrowStream,
}

/// A Parquet or Arrow table file, its schema read, its rows not yet.
#[derive(Clone, Debug)]
pub struct Table {
    path: PathBuf,
    file: Arc<str>,
    layout: Layout,
    schema: SchemaRef,
    class_names: HashMap<String, Vec<String>>,
}

impl Table {
    /// Opens `path` (Parquet by its `.parquet` extension, else Arrow IPC)
    /// and reads its schema; an error naming the file if it is not a table.
    pub fn open(path: &Path) -> Result<Self, DatasetError> {
        let file: Arc<str> = path.display().to_string().into();
        let error = |message: String| DatasetError::File {
            path: file.to_string(),
            message,
        };
        let parquet = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        let (layout, schema) = if parquet {
            let builder = ParquetRecordBatchReaderBuilder::try_new(open_file(path)?)
                .map_err(|e| error(format!("not a Parquet file: {e}")))?;
            (Layout::Parquet, builder.schema().clone())
        } else {
            let mut magic = [0u8; 6];
            let starts = open_file(path)?.read_exact(&mut magic).is_ok();
            if starts && magic == ARROW_FILE_MAGIC {
                let reader = arrow_ipc::reader::FileReader::try_new(open_file(path)?, None)
                    .map_err(|e| error(format!("not an Arrow IPC file: {e}")))?;
                (Layout::ArrowFile, reader.schema())
            } else {
                let reader = BufReader::new(open_file(path)?);
                let reader = arrow_ipc::reader::StreamReader::try_new(reader, None)
                    .map_err(|e| error(format!("not an Arrow IPC file or stream: {e}")))?;
                (Layout::ArrowStream, reader.schema())
            }
        };
        let class_names = class_names(schema.metadata().get(METADATA_KEY).map(String::as_str));
        Ok(Self {
            path: path.to_path_buf(),
            file,
            layout,
            schema,
            class_names,
        })
    }

    /// The file, as errors name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The column names, in order.
    pub fn columns(&self) -> Vec<&str> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// The class names the file declares for `column` (a `ClassLabel`, or a
    /// list of them), in class-id order.
    pub fn class_names(&self, column: &str) -> Option<&[String]> {
        self.class_names.get(column).map(Vec::as_slice)
    }

    /// The index of `column`; an error naming the file and its columns if absent.
    fn index(&self, column: &str) -> Result<usize, DatasetError> {
        self.schema
            .index_of(column)
            .map_err(|_| DatasetError::File {
                path: self.file.to_string(),
                message: format!(
                    "no column {column:?}; the file has {}",
                    self.columns().join(", ")
                ),
            })
    }

    /// Every row with the values of `columns` (all columns when `None`).
    pub fn rows(&self, columns: Option<&[&str]>) -> Result<Vec<TableRow>, DatasetError> {
        let indices = match columns {
            Some(columns) => columns
                .iter()
                .map(|column| self.index(column))
                .collect::<Result<Vec<_>, _>>()?,
            None => (0..self.schema.fields().len()).collect(),
        };
        let mut rows = Vec::new();
        for batch in self.batches(&indices)? {
            let batch = batch.map_err(|e| self.read_error(e))?;
            self.append_rows(&batch, &mut rows)?;
        }
        Ok(rows)
    }

    /// The non-empty texts of `column`, in row order; a null or a
    /// non-string is an error naming its row.
    pub fn texts(&self, column: &str) -> Result<Vec<String>, DatasetError> {
        let mut texts = Vec::new();
        for row in self.rows(Some(&[column]))? {
            match &row.values[column] {
                Value::String(text) if text.trim().is_empty() => {}
                Value::String(text) => texts.push(text.clone()),
                other => {
                    return Err(DatasetError::Row {
                        origin: row.origin.to_string(),
                        message: format!("{column:?} must be a string, got {other}"),
                    });
                }
            }
        }
        Ok(texts)
    }

    /// The record batches of the columns at `indices`, in that order.
    fn batches(
        &self,
        indices: &[usize],
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>, DatasetError> {
        let file = open_file(&self.path)?;
        let project = {
            let indices = indices.to_vec();
            move |batch: Result<RecordBatch, ArrowError>| batch?.project(&indices)
        };
        Ok(match self.layout {
            Layout::Parquet => {
                let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| self.read_error(e.into()))?;
                let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
                // The projection keeps the file's column order: put the
                // columns back in the order asked for.
                let mut kept: Vec<usize> = indices.to_vec();
                kept.sort_unstable();
                kept.dedup();
                let order: Vec<usize> = indices
                    .iter()
                    .map(|i| kept.binary_search(i).unwrap_or_default())
                    .collect();
                let reader = builder
                    .with_projection(mask)
                    .build()
                    .map_err(|e| self.read_error(e.into()))?;
                Box::new(reader.map(move |batch| batch?.project(&order)))
            }
            Layout::ArrowFile => Box::new(
                arrow_ipc::reader::FileReader::try_new(file, None)
                    .map_err(|e| self.read_error(e))?
                    .map(project),
            ),
            Layout::ArrowStream => Box::new(
                arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), None)
                    .map_err(|e| self.read_error(e))?
                    .map(project),
            ),
        })
    }

    fn read_error(&self, error: ArrowError) -> DatasetError {
        DatasetError::File {
            path: self.file.to_string(),
            message: format!("cannot read the table: {error}"),
        }
    }

    /// Appends the rows of `batch` (its first row follows `rows`'s last).
    fn append_rows(
        &self,
        batch: &RecordBatch,
        rows: &mut Vec<TableRow>,
    ) -> Result<(), DatasetError> {
        let first = rows.len();
        let schema = batch.schema();
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            let name = field.name();
            let column_error = |message: String| DatasetError::File {
                path: self.file.to_string(),
                message: format!("column {name:?}: {message}"),
            };
            let mut values = json_values(array.as_ref()).map_err(column_error)?;
            if let Some(names) = self.class_names(name) {
                for (index, value) in values.iter_mut().enumerate() {
                    let origin = Origin::row(self.file.clone(), first + index + 1);
                    name_classes(value, names, name, &origin)?;
                }
            }
            columns.push((name.clone(), values));
        }
        for index in 0..batch.num_rows() {
            let values = columns
                .iter()
                .map(|(name, values)| (name.clone(), values[index].clone()))
                .collect();
            rows.push(TableRow {
                origin: Origin::row(self.file.clone(), first + index + 1),
                values,
            });
        }
        Ok(())
    }
}

fn open_file(path: &Path) -> Result<File, DatasetError> {
    File::open(path).map_err(|e| DatasetError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Replaces the class ids in `value` (a number, or a list of them) by their
/// `names`; -1 (an unlabelled row) becomes `null`, another id outside the
/// names an error naming the row and the column.
fn name_classes(
    value: &mut Value,
    names: &[String],
    column: &str,
    origin: &Origin,
) -> Result<(), DatasetError> {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| name_classes(item, names, column, origin)),
        Value::Number(number) => {
            let id = number.as_i64();
            *value = match id {
                Some(-1) => Value::Null,
                Some(id) if (0..names.len() as i64).contains(&id) => {
                    Value::String(names[id as usize].clone())
                }
                _ => {
                    return Err(DatasetError::Row {
                        origin: origin.to_string(),
                        message: format!(
                            "column {column:?}: class id {number} is outside its ClassLabel's {} names ({})",
                            names.len(),
                            names.join(", ")
                        ),
                    });
                }
            };
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The values of an Arrow array as JSON, one per row (`null` where null).
fn json_values(array: &dyn Array) -> Result<Vec<Value>, String> {
    let values = match array.data_type() {
        DataType::Null => vec![Value::Null; array.len()],
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Bool))
            .collect(),
        DataType::Int8 => numbers::<Int8Type>(array),
        DataType::Int16 => numbers::<Int16Type>(array),
        DataType::Int32 => numbers::<Int32Type>(array),
        DataType::Int64 => numbers::<Int64Type>(array),
        DataType::UInt8 => numbers::<UInt8Type>(array),
        DataType::UInt16 => numbers::<UInt16Type>(array),
        DataType::UInt32 => numbers::<UInt32Type>(array),
        DataType::UInt64 => numbers::<UInt64Type>(array),
        DataType::Float32 => numbers::<Float32Type>(array),
        DataType::Float64 => numbers::<Float64Type>(array),
        DataType::Utf8 => strings(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strings(array.as_string::<i64>().iter()),
        DataType::Utf8View => strings(array.as_string_view().iter()),
        DataType::List(_) => offset_lists::<i32>(array)?,
        DataType::LargeList(_) => offset_lists::<i64>(array)?,
        DataType::FixedSizeList(_, width) => {
            let list = array.as_fixed_size_list();
            let width = *width as usize;
            lists(array, list.values().as_ref(), |i| {
                let start = list.value_offset_at(i);
                start..start + width
            })?
        }
        DataType::Struct(_) => {
            let record = array.as_struct();
            let fields: Vec<(String, Vec<Value>)> = record
                .column_names()
                .into_iter()
                .zip(record.columns())
                .map(|(name, column)| Ok((name.to_string(), json_values(column.as_ref())?)))
                .collect::<Result<_, String>>()?;
            (0..array.len())
                .map(|i| match array.is_null(i) {
                    true => Value::Null,
                    false => Value::Object(
                        fields
                            .iter()
                            .map(|(name, values)| (name.clone(), values[i].clone()))
                            .collect(),
                    ),
                })
                .collect()
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array
                .as_any_dictionary_opt()
                .ok_or("a dictionary that cannot be read")?;
            let values = json_values(dictionary.values().as_ref())?;
            let keys = dictionary.normalized_keys();
            (0..array.len())
                .map(|i| match array.is_null(i) {
                    true => Value::Null,
                    false => values[keys[i]].clone(),
                })
                .collect()
        }
        other => {
            return Err(format!(
                "type {other} is not read (expected text, numbers, booleans, lists or structs)"
            ));
        }
    };
    Ok(values)
}

/// Numbers (`null` where null or not finite).
fn numbers<T: ArrowPrimitiveType>(array: &dyn Array) -> Vec<Value>
where
    T::Native: Into<JsonNumber>,
{
    array
        .as_primitive::<T>()
        .iter()
        .map(|v| {
            v.and_then(|v| v.into().0)
                .map_or(Value::Null, Value::Number)
        })
        .collect()
}

/// A native number as JSON: `None` for NaN and infinities.
struct JsonNumber(Option<Number>);

macro_rules! json_number {
    ($($int:ty),*) => {$(
        impl From<$int> for JsonNumber {
            fn from(value: $int) -> Self {
                Self(Some(Number::from(value)))
            }
        }
    )*};
}

json_number!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<f32> for JsonNumber {
    fn from(value: f32) -> Self {
        Self(Number::from_f64(f64::from(value)))
    }
}

impl From<f64> for JsonNumber {
    fn from(value: f64) -> Self {
        Self(Number::from_f64(value))
    }
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Value> {
    values
        .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
        .collect()
}

/// Lists with `O` offsets (`List`, `LargeList`).
fn offset_lists<O: OffsetSizeTrait>(array: &dyn Array) -> Result<Vec<Value>, String> {
    let list = array.as_list::<O>();
    let offsets = list.value_offsets();
    lists(array, list.values().as_ref(), |i| {
        offsets[i].as_usize()..offsets[i + 1].as_usize()
    })
}

/// Lists: row `i` holds the child values at `range(i)`.
fn lists(
    array: &dyn Array,
    children: &dyn Array,
    range: impl Fn(usize) -> std::ops::Range<usize>,
) -> Result<Vec<Value>, String> {
    let children = json_values(children)?;
    Ok((0..array.len())
        .map(|i| match array.is_null(i) {
            true => Value::Null,
            false => Value::Array(children[range(i)].to_vec()),
        })
        .collect())
}
