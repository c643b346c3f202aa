// The subset of DuckDB's stable C API that kiln's scan uses, declared locally and resolved with dlsym.
#pragma once

#include <cstdint>

namespace kiln {
namespace scan {
namespace capi {

using idx_t = uint64_t;
enum duckdb_state : int32_t { DuckDBSuccess = 0, DuckDBError = 1 };

// Type ids of duckdb_type (duckdb.h); kiln only accepts the eight it casts to.
enum duckdb_type : int32_t {
  DUCKDB_TYPE_BOOLEAN = 1,
  DUCKDB_TYPE_INTEGER = 4,
  DUCKDB_TYPE_BIGINT = 5,
  DUCKDB_TYPE_FLOAT = 10,
  DUCKDB_TYPE_DOUBLE = 11,
  DUCKDB_TYPE_TIMESTAMP = 12,
  DUCKDB_TYPE_DATE = 13,
  DUCKDB_TYPE_VARCHAR = 17,
};

struct Opaque { void* internal_ptr; };
using duckdb_database = Opaque*;
using duckdb_connection = Opaque*;
using duckdb_prepared_statement = Opaque*;
using duckdb_data_chunk = Opaque*;
using duckdb_vector = Opaque*;
using duckdb_logical_type = Opaque*;
using duckdb_table_function = Opaque*;
using duckdb_bind_info = Opaque*;
using duckdb_init_info = Opaque*;
using duckdb_function_info = Opaque*;
using duckdb_delete_callback_t = void (*)(void*);
using duckdb_table_function_bind_t = void (*)(duckdb_bind_info);
using duckdb_table_function_init_t = void (*)(duckdb_init_info);
using duckdb_table_function_t = void (*)(duckdb_function_info, duckdb_data_chunk);

// Layout of duckdb_result (duckdb.h): six pointer-sized fields, passed by value to duckdb_fetch_chunk.
struct duckdb_result {
  idx_t deprecated_column_count;
  idx_t deprecated_row_count;
  idx_t deprecated_rows_changed;
  void* deprecated_columns;
  char* deprecated_error_message;
  void* internal_data;
};

// duckdb_string_t: inlined when length <= 12, else prefix + pointer.
struct duckdb_string_t {
  union {
    struct { uint32_t length; char prefix[4]; char* ptr; } pointer;
    struct { uint32_t length; char inlined[12]; } inlined;
  } value;
};

// Function table resolved from the shared library.
struct Api {
  duckdb_state (*open)(const char*, duckdb_database*);
  duckdb_state (*connect)(duckdb_database, duckdb_connection*);
  void (*disconnect)(duckdb_connection*);
  duckdb_state (*query)(duckdb_connection, const char*, duckdb_result*);
  duckdb_state (*prepare)(duckdb_connection, const char*, duckdb_prepared_statement*);
  const char* (*prepare_error)(duckdb_prepared_statement);
  void (*destroy_prepare)(duckdb_prepared_statement*);
  duckdb_state (*execute_prepared_streaming)(duckdb_prepared_statement, duckdb_result*);
  const char* (*result_error)(duckdb_result*);
  void (*destroy_result)(duckdb_result*);
  idx_t (*column_count)(duckdb_result*);
  const char* (*column_name)(duckdb_result*, idx_t);
  duckdb_type (*column_type)(duckdb_result*, idx_t);
  duckdb_data_chunk (*fetch_chunk)(duckdb_result);
  idx_t (*data_chunk_get_size)(duckdb_data_chunk);
  duckdb_vector (*data_chunk_get_vector)(duckdb_data_chunk, idx_t);
  void* (*vector_get_data)(duckdb_vector);
  uint64_t* (*vector_get_validity)(duckdb_vector);
  void (*destroy_data_chunk)(duckdb_data_chunk*);
  // Databases of their own, and table functions (the feature pipeline's output stream).
  void (*close)(duckdb_database*);
  void (*interrupt)(duckdb_connection);
  duckdb_table_function (*create_table_function)();
  void (*destroy_table_function)(duckdb_table_function*);
  void (*table_function_set_name)(duckdb_table_function, const char*);
  void (*table_function_set_extra_info)(duckdb_table_function, void*, duckdb_delete_callback_t);
  void (*table_function_set_bind)(duckdb_table_function, duckdb_table_function_bind_t);
  void (*table_function_set_init)(duckdb_table_function, duckdb_table_function_init_t);
  void (*table_function_set_function)(duckdb_table_function, duckdb_table_function_t);
  duckdb_state (*register_table_function)(duckdb_connection, duckdb_table_function);
  void (*bind_add_result_column)(duckdb_bind_info, const char*, duckdb_logical_type);
  void* (*bind_get_extra_info)(duckdb_bind_info);
  void (*init_set_max_threads)(duckdb_init_info, idx_t);
  void* (*function_get_extra_info)(duckdb_function_info);
  void (*function_set_error)(duckdb_function_info, const char*);
  duckdb_logical_type (*create_logical_type)(duckdb_type);
  void (*destroy_logical_type)(duckdb_logical_type*);
  void (*data_chunk_set_size)(duckdb_data_chunk, idx_t);
  void (*vector_assign_string_element_len)(duckdb_vector, idx_t, const char*, idx_t);
  void (*vector_ensure_validity_writable)(duckdb_vector);
  idx_t (*vector_size)();
};

// The API table LoadDuckDB resolved (throws E_INTERNAL before it ran).
const Api& LoadedApi();

}  // namespace capi
}  // namespace scan
}  // namespace kiln
