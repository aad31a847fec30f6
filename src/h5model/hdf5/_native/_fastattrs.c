/*
 * Scalar attributes of an HDF5 object, read in one call.
 *
 * The same work as h5model.hdf5._native.read_attrs.ctypes_reader (see there for why),
 * without a Python-level call per HDF5 function. It calls the HDF5 library h5py has
 * already loaded through function addresses handed over by init() (taken from the
 * ctypes bindings of h5model.hdf5._native.library), together with the HDF5 constants
 * as h5py exports them. So it needs no HDF5 headers, no dynamic-loader library and no
 * link-time dependency: only Python's headers and a C compiler, on any platform. If it
 * cannot be built, h5model uses the ctypes path instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef int64_t hid_t;
typedef int herr_t;
typedef uint64_t hsize_t;

static hid_t (*p_open_by_idx)(hid_t, const char *, int, int, hsize_t, hid_t, hid_t);
static Py_ssize_t (*p_get_name)(hid_t, size_t, char *);
static hid_t (*p_get_type)(hid_t);
static int (*p_get_class)(hid_t);
static int (*p_is_variable_str)(hid_t);
static size_t (*p_get_size)(hid_t);
static int (*p_get_sign)(hid_t);
static hid_t (*p_get_space)(hid_t);
static int (*p_extent_type)(hid_t);
static herr_t (*p_read)(hid_t, hid_t, void *);
static herr_t (*p_close_type)(hid_t);
static herr_t (*p_close_space)(hid_t);
static herr_t (*p_close_attr)(hid_t);
static herr_t (*p_free)(void *);
static char *(*p_get_tag)(hid_t);

static hid_t t_double, t_int64, t_uint64, t_text;
static hid_t t_lengths = -1; /* the probe of stored_lengths below; -1 until registered */
static long c_string, c_float, c_integer, c_unsigned, c_space_scalar, c_index_name, c_iter_inc;
static PyObject *numpy_types = NULL; /* dict: (kind, size, signed) -> numpy scalar type */
static int ready = 0;

#define NAME_BUFFER 1024

/* dict[name] as a C long long; 0 with an exception set when absent or not an int. */
static int item(PyObject *dict, const char *name, long long *out) {
    PyObject *value = PyDict_GetItemString(dict, name);
    if (value == NULL) {
        PyErr_Format(PyExc_ValueError, "init() is missing %s", name);
        return 0;
    }
    *out = PyLong_AsLongLong(value);
    return !(*out == -1 && PyErr_Occurred());
}

/* The address of the HDF5 function `name` from the dict of addresses, NULL when absent. */
static void *function(PyObject *addresses, const char *name) {
    long long address;
    if (!item(addresses, name, &address)) {
        return NULL;
    }
    if (address == 0) {
        PyErr_Format(PyExc_ValueError, "no address for %s", name);
        return NULL;
    }
    return (void *)(intptr_t)address;
}

#define BIND(target, name)                                                                     \
    if ((*(void **)&(target) = function(functions, name)) == NULL) {                            \
        return NULL;                                                                           \
    }
#define VALUE(dict, target, name)                                                              \
    if (!item(dict, name, &number)) {                                                          \
        return NULL;                                                                           \
    }                                                                                          \
    target = number;

static PyObject *init(PyObject *self, PyObject *args) {
    PyObject *functions, *handles, *constants, *types;
    long long number;
    if (!PyArg_ParseTuple(args, "O!O!O!O!", &PyDict_Type, &functions, &PyDict_Type, &handles,
                          &PyDict_Type, &constants, &PyDict_Type, &types)) {
        return NULL;
    }
    ready = 0;
    BIND(p_open_by_idx, "H5Aopen_by_idx");
    BIND(p_get_name, "H5Aget_name");
    BIND(p_get_type, "H5Aget_type");
    BIND(p_get_class, "H5Tget_class");
    BIND(p_is_variable_str, "H5Tis_variable_str");
    BIND(p_get_size, "H5Tget_size");
    BIND(p_get_sign, "H5Tget_sign");
    BIND(p_get_space, "H5Aget_space");
    BIND(p_extent_type, "H5Sget_simple_extent_type");
    BIND(p_read, "H5Aread");
    BIND(p_close_type, "H5Tclose");
    BIND(p_close_space, "H5Sclose");
    BIND(p_close_attr, "H5Aclose");
    BIND(p_free, "H5free_memory");
    VALUE(handles, t_double, "double");
    VALUE(handles, t_int64, "int64");
    VALUE(handles, t_uint64, "uint64");
    VALUE(handles, t_text, "text");
    VALUE(constants, c_string, "STRING");
    VALUE(constants, c_float, "FLOAT");
    VALUE(constants, c_integer, "INTEGER");
    VALUE(constants, c_unsigned, "UNSIGNED");
    VALUE(constants, c_space_scalar, "SPACE_SCALAR");
    VALUE(constants, c_index_name, "INDEX_NAME");
    VALUE(constants, c_iter_inc, "ITER_INC");
    Py_INCREF(types);
    Py_XSETREF(numpy_types, types);
    ready = 1;
    Py_RETURN_NONE;
}

/*
 * A conversion from variable-length text as stored to its lengths in bytes (uint32), for
 * HDF5 to run when an attribute is read with the opaque memory type tagged LENGTHS_TAG.
 * HDF5 hands a conversion the stored form of each element: a 4-byte little-endian length
 * followed by where the text lies in the file's global heap. So the length of a text is
 * known without reading the text (which HDF5 would otherwise read, and copy, whole).
 * Registered by h5model.hdf5._native.lengths; the arguments are those of H5T_conv_t.
 */
#define LENGTHS_TAG "h5model: stored lengths of variable-length text"

static herr_t stored_lengths(hid_t src, hid_t dst, void *cdata, size_t count, size_t stride,
                             size_t background_stride, void *buffer, void *background,
                             hid_t transfer) {
    (void)background_stride;
    (void)background;
    (void)transfer;
    int command = *(int *)cdata; /* H5T_cdata_t starts with its H5T_cmd_t command */
    if (command == 0) {          /* H5T_CONV_INIT: only text to this probe */
        char *tag = p_get_tag(dst);
        int ours = tag != NULL && strcmp(tag, LENGTHS_TAG) == 0;
        if (tag != NULL) {
            p_free(tag);
        }
        return ours && p_is_variable_str(src) > 0 ? 0 : -1;
    }
    if (command == 1) { /* H5T_CONV_CONV: in place, each length over its element's start */
        size_t size = stride ? stride : p_get_size(src);
        unsigned char *bytes = buffer;
        if (size < 4) {
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            const unsigned char *element = bytes + i * size;
            uint32_t length = (uint32_t)element[0] | (uint32_t)element[1] << 8 |
                              (uint32_t)element[2] << 16 | (uint32_t)element[3] << 24;
            memcpy(bytes + i * 4, &length, 4);
        }
    }
    return 0; /* H5T_CONV_FREE: nothing held */
}

static PyObject *lengths_conversion(PyObject *self, PyObject *args) {
    PyObject *functions;
    long long probe;
    if (!PyArg_ParseTuple(args, "O!L", &PyDict_Type, &functions, &probe)) {
        return NULL;
    }
    BIND(p_get_tag, "H5Tget_tag");
    BIND(p_free, "H5free_memory");
    BIND(p_is_variable_str, "H5Tis_variable_str");
    BIND(p_get_size, "H5Tget_size");
    t_lengths = (hid_t)probe;
    return PyLong_FromVoidPtr((void *)(intptr_t)&stored_lengths);
}

/* A new reference to the numpy scalar type for (kind, size, signed), or NULL. */
static PyObject *scalar_type(int kind, size_t size, int is_signed) {
    PyObject *key = Py_BuildValue("(inI)", kind, (Py_ssize_t)size, (unsigned)is_signed);
    if (key == NULL) {
        return NULL;
    }
    PyObject *type = PyDict_GetItemWithError(numpy_types, key);
    Py_DECREF(key);
    Py_XINCREF(type);
    return type;
}

typedef herr_t (*value_reader)(hid_t object, hid_t memory, void *buffer);

/* A scalar value of `object` (its datatype `type`, of class `kind`) read through `read`: a
   str for variable-length text (when `text` allows it), a float or an int for numbers of a
   type numpy has, whose numpy scalar type goes to `*numpy_type` (a new reference; NULL for
   text). NULL where it is not read, with an exception set only on an error. */
static PyObject *plain_value(hid_t object, hid_t type, int kind, value_reader read, int text,
                             PyObject **numpy_type) {
    *numpy_type = NULL;
    if (kind == c_string) {
        char *chars = NULL;
        if (!text || p_is_variable_str(type) <= 0 || read(object, t_text, &chars) < 0) {
            return NULL;
        }
        PyObject *value = chars ? PyUnicode_DecodeUTF8(chars, (Py_ssize_t)strlen(chars),
                                                       "surrogateescape")
                                : PyUnicode_FromString("");
        if (chars) {
            p_free(chars);
        }
        return value;
    }
    if (kind != c_float && kind != c_integer) {
        return NULL;
    }
    int is_signed = kind == c_float || p_get_sign(type) != c_unsigned;
    *numpy_type = scalar_type(kind, p_get_size(type), is_signed);
    if (*numpy_type == NULL) {
        return NULL;
    }
    if (kind == c_float) {
        double number;
        return read(object, t_double, &number) < 0 ? NULL : PyFloat_FromDouble(number);
    }
    if (is_signed) {
        int64_t number;
        return read(object, t_int64, &number) < 0 ? NULL : PyLong_FromLongLong((long long)number);
    }
    uint64_t number;
    return read(object, t_uint64, &number) < 0
               ? NULL
               : PyLong_FromUnsignedLongLong((unsigned long long)number);
}

/* The value of one scalar attribute, Py_None (borrowed marker) to fall back, NULL on error. */
static PyObject *read_scalar(hid_t attr, long long limit) {
    hid_t space = p_get_space(attr);
    if (space < 0) {
        Py_RETURN_NONE;
    }
    int scalar = p_extent_type(space) == c_space_scalar;
    p_close_space(space);
    if (!scalar) {
        Py_RETURN_NONE;
    }
    hid_t type = p_get_type(attr);
    if (type < 0) {
        Py_RETURN_NONE;
    }
    int kind = p_get_class(type);
    int text = 1;
    if (kind == c_string && limit > 0 && t_lengths >= 0 && p_is_variable_str(type) > 0) {
        uint32_t stored = 0; /* longer than the limit: left to h5model.hdf5.attributes */
        text = !(p_read(attr, t_lengths, &stored) >= 0 && (long long)stored > limit);
    }
    PyObject *numpy_type;
    PyObject *result = plain_value(attr, type, kind, p_read, text, &numpy_type);
    if (result != NULL && numpy_type != NULL) { /* attributes read as numpy scalars */
        PyObject *wrapped = PyObject_CallOneArg(numpy_type, result);
        Py_DECREF(result);
        result = wrapped;
    }
    Py_XDECREF(numpy_type);
    p_close_type(type);
    if (result == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return result;
}

/* The one object equal to `text` in `shared` (added if new): names and short texts repeat
   across the objects of a file, and each copy would stay in memory as long as the file's
   graph. Takes the reference to `text`, returns a new one (NULL on error). */
static PyObject *share(PyObject *shared, PyObject *text) {
    if (shared == NULL || text == NULL || !PyUnicode_CheckExact(text)) {
        return text;
    }
    PyObject *found = PyDict_SetDefault(shared, text, text);
    Py_XINCREF(found);
    Py_DECREF(text);
    return found;
}

#define SHARED_TEXT_LENGTH 32 /* longer texts (object ids, descriptions) rarely repeat */

/* An error of HDF5 as an OSError, unless the file object HDF5 reads through raised one of
   its own (a remote read that failed): that one comes out as it was raised. */
#define OS_ERROR(text)                                                                         \
    do {                                                                                       \
        if (!PyErr_Occurred()) {                                                               \
            PyErr_SetString(PyExc_OSError, text);                                              \
        }                                                                                      \
    } while (0)
#define OS_ERROR_FORMAT(...)                                                                   \
    do {                                                                                       \
        if (!PyErr_Occurred()) {                                                               \
            PyErr_Format(PyExc_OSError, __VA_ARGS__);                                          \
        }                                                                                      \
    } while (0)

/* Read the `count` attributes of `object` into `values` (name -> value, in name order) and
   `rest` (names left to h5py, held by None in values). 0 on success, -1 with an exception. */
static int read_into(hid_t object, Py_ssize_t count, long long limit, PyObject *shared,
                     PyObject *values, PyObject *rest) {
    char buffer[NAME_BUFFER];
    for (Py_ssize_t i = 0; i < count; i++) {
        hid_t attr = p_open_by_idx(object, ".", (int)c_index_name, (int)c_iter_inc,
                                   (hsize_t)i, 0, 0);
        if (attr < 0) {
            OS_ERROR_FORMAT("HDF5 could not open attribute %zd of object %lld", i,
                         (long long)object);
            return -1;
        }
        char *name = buffer;
        Py_ssize_t length = p_get_name(attr, NAME_BUFFER, buffer);
        if (length >= NAME_BUFFER) { /* a long name: read it whole */
            name = PyMem_Malloc((size_t)length + 1);
            if (name == NULL) {
                p_close_attr(attr);
                PyErr_NoMemory();
                return -1;
            }
            length = p_get_name(attr, (size_t)length + 1, name);
        }
        PyObject *key = NULL;
        if (length < 0) {
            OS_ERROR_FORMAT("HDF5 could not read the name of attribute %zd", i);
        } else {
            key = share(shared, PyUnicode_DecodeUTF8(name, length, "surrogateescape"));
        }
        if (name != buffer) {
            PyMem_Free(name);
        }
        PyObject *value = key ? read_scalar(attr, limit) : NULL;
        p_close_attr(attr);
        if (value != NULL && PyUnicode_CheckExact(value) &&
            PyUnicode_GET_LENGTH(value) <= SHARED_TEXT_LENGTH) {
            value = share(shared, value);
        }
        if (value == NULL) {
            Py_XDECREF(key);
            return -1;
        }
        /* None holds the attribute's place in name order until h5py reads it */
        int status = PyDict_SetItem(values, key, value);
        if (status == 0 && value == Py_None) {
            status = PyList_Append(rest, key);
        }
        Py_DECREF(key);
        Py_DECREF(value);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

/* The dict of shared texts from an argument (NULL for None), -1 on a wrong type. */
static int shared_texts(PyObject *argument, PyObject **shared) {
    *shared = NULL;
    if (argument == Py_None) {
        return 0;
    }
    if (!PyDict_CheckExact(argument)) {
        PyErr_SetString(PyExc_TypeError, "shared texts must be a dict or None");
        return -1;
    }
    *shared = argument;
    return 0;
}

static PyObject *read_scalar_attributes(PyObject *self, PyObject *args) {
    long long object, limit = 0;
    Py_ssize_t count;
    PyObject *argument = Py_None, *shared;
    if (!PyArg_ParseTuple(args, "Ln|LO", &object, &count, &limit, &argument)) {
        return NULL;
    }
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "call init() first");
        return NULL;
    }
    if (shared_texts(argument, &shared) < 0) {
        return NULL;
    }
    PyObject *values = PyDict_New();
    PyObject *rest = PyList_New(0);
    if (values == NULL || rest == NULL || read_into((hid_t)object, count, limit, shared,
                                                    values, rest) < 0) {
        Py_XDECREF(values);
        Py_XDECREF(rest);
        return NULL;
    }
    return Py_BuildValue("(NN)", values, rest);
}

/*
 * One object of a traversal, met under `name` in the group `loc`: what the graph keeps of
 * it, from one open of its header (h5py would make an identifier object, and register it,
 * for the object, its dataspace and its datatype).
 */
static hid_t (*p_object_open)(hid_t, const char *, hid_t);
static herr_t (*p_object_close)(hid_t);
static int (*p_identifier_type)(hid_t);
static hid_t (*p_dataset_space)(hid_t);
static hid_t (*p_dataset_type)(hid_t);
static int (*p_space_ndims)(hid_t);
static int (*p_space_dims)(hid_t, hsize_t *, hsize_t *);
static int (*p_type_order)(hid_t);
static int (*p_type_cset)(hid_t);
static int (*p_num_attrs)(hid_t);
static herr_t (*p_object_info)(hid_t, void *, unsigned);
static long c_group, c_dataset, c_space_simple, c_space_null;
static int walk_ready = 0;

#define MAX_RANK 32

/* The head of H5O_info2_t (stable since HDF5 1.12): the file number, the token, the type,
 * the hard-link count; the rest of the struct is room for the fields that follow it. */
typedef struct {
    unsigned long fileno;
    unsigned char token[16];
    int type;
    unsigned rc;
    unsigned char rest[128];
} object_info;
#define INFO_BASIC 1u

static PyObject *init_walk(PyObject *self, PyObject *args) {
    PyObject *functions, *constants;
    long long number;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &functions, &PyDict_Type, &constants)) {
        return NULL;
    }
    walk_ready = 0;
    BIND(p_object_open, "H5Oopen");
    BIND(p_object_close, "H5Oclose");
    BIND(p_identifier_type, "H5Iget_type");
    BIND(p_dataset_space, "H5Dget_space");
    BIND(p_dataset_type, "H5Dget_type");
    BIND(p_space_ndims, "H5Sget_simple_extent_ndims");
    BIND(p_space_dims, "H5Sget_simple_extent_dims");
    BIND(p_type_order, "H5Tget_order");
    BIND(p_type_cset, "H5Tget_cset");
    BIND(p_num_attrs, "H5Aget_num_attrs");
    BIND(p_object_info, "H5Oget_info3");
    VALUE(constants, c_group, "GROUP");
    VALUE(constants, c_dataset, "DATASET");
    VALUE(constants, c_space_simple, "SPACE_SIMPLE");
    VALUE(constants, c_space_null, "SPACE_NULL");
    walk_ready = 1;
    Py_RETURN_NONE;
}

/* A dataset's shape: a tuple, () for a scalar, None for a null dataspace; NULL on error. */
static PyObject *dataset_shape(hid_t dataset) {
    hid_t space = p_dataset_space(dataset);
    if (space < 0) {
        OS_ERROR("HDF5 could not read the dataspace");
        return NULL;
    }
    PyObject *shape = NULL;
    int kind = p_extent_type(space);
    if (kind == c_space_null) {
        shape = Py_NewRef(Py_None);
    } else if (kind == c_space_scalar) {
        shape = PyTuple_New(0);
    } else {
        hsize_t dims[MAX_RANK];
        int rank = p_space_ndims(space);
        if (kind != c_space_simple || rank < 0 || rank > MAX_RANK ||
            p_space_dims(space, dims, NULL) < 0) {
            OS_ERROR("HDF5 could not read the dataspace's extent");
        } else {
            shape = PyTuple_New(rank);
            for (int i = 0; shape != NULL && i < rank; i++) {
                PyObject *n = PyLong_FromUnsignedLongLong((unsigned long long)dims[i]);
                if (n == NULL) {
                    Py_CLEAR(shape);
                } else {
                    PyTuple_SET_ITEM(shape, i, n);
                }
            }
        }
    }
    p_close_space(space);
    return shape;
}

/* A dataset's datatype as (class, size, signed, order, variable-length text, charset) for
   numbers and text; None for every other class (h5py makes those dtypes). */
static PyObject *dataset_signature(hid_t dataset) {
    hid_t type = p_dataset_type(dataset);
    if (type < 0) {
        OS_ERROR("HDF5 could not read the datatype");
        return NULL;
    }
    PyObject *out;
    int kind = p_get_class(type);
    if (kind == c_integer || kind == c_float || kind == c_string) {
        int text = kind == c_string;
        out = Py_BuildValue("(inii" "ii)", kind, (Py_ssize_t)p_get_size(type),
                            kind == c_integer ? p_get_sign(type) != c_unsigned : 1,
                            text ? -1 : p_type_order(type),
                            text ? p_is_variable_str(type) > 0 : 0,
                            text ? p_type_cset(type) : -1);
    } else {
        out = Py_NewRef(Py_None);
    }
    p_close_type(type);
    return out;
}

static PyObject *read_dataset_scalar(hid_t dataset, long long limit);

/* What scan_object returns for the object `name` of `loc`, plus, when `scalars` is set, a
   scalar dataset's value as (value,) (None where h5py must read it); Py_None for a
   committed datatype; NULL with an exception set. */
static PyObject *scan_one(hid_t loc, const char *name, long long limit, PyObject *shared,
                          long long most, int scalars) {
    hid_t object = p_object_open(loc, name, 0);
    if (object < 0) {
        OS_ERROR_FORMAT("HDF5 could not open %s", name);
        return NULL;
    }
    PyObject *kind = NULL, *shape = NULL, *signature = NULL, *values = NULL, *rest = NULL;
    PyObject *scalar = NULL;
    int type = p_identifier_type(object);
    if (type == c_group) {
        kind = PyUnicode_FromString("group");
        shape = Py_NewRef(Py_None);
        signature = Py_NewRef(Py_None);
    } else if (type == c_dataset) {
        kind = PyUnicode_FromString("dataset");
        shape = dataset_shape(object);
        signature = shape ? dataset_signature(object) : NULL;
    } else { /* a committed datatype: not an object of the data model */
        p_object_close(object);
        Py_RETURN_NONE;
    }
    object_info info;
    long links = 0;
    if (signature != NULL) {
        if (p_object_info(object, &info, INFO_BASIC) < 0) {
            OS_ERROR("HDF5 could not read the object's header");
            Py_CLEAR(signature);
        } else { /* -1 (unknown) if the struct is not laid out as expected */
            links = info.type == (type == c_group ? 0 : 1) ? (long)info.rc : -1;
        }
    }
    int count = signature ? p_num_attrs(object) : 0;
    if (signature != NULL && count < 0) {
        OS_ERROR("HDF5 could not count the attributes");
    } else if (signature != NULL && most >= 0 && count > most) {
        values = Py_NewRef(Py_None); /* too many to read by position: left to the caller */
        rest = Py_NewRef(Py_None);
    } else if (signature != NULL) {
        values = PyDict_New();
        rest = PyList_New(0);
        if (values != NULL && rest != NULL &&
            read_into(object, count, limit, shared, values, rest) < 0) {
            Py_CLEAR(values);
        }
    }
    if (scalars && values != NULL) {
        scalar = (shape != NULL && PyTuple_Check(shape) && PyTuple_GET_SIZE(shape) == 0)
                     ? read_dataset_scalar(object, limit)
                     : Py_NewRef(Py_None);
    }
    p_object_close(object);
    if (kind == NULL || shape == NULL || signature == NULL || values == NULL || rest == NULL ||
        (scalars && scalar == NULL)) {
        Py_XDECREF(kind);
        Py_XDECREF(shape);
        Py_XDECREF(signature);
        Py_XDECREF(values);
        Py_XDECREF(rest);
        Py_XDECREF(scalar);
        return NULL;
    }
    if (scalars) {
        return Py_BuildValue("(NNNNNlN)", kind, shape, signature, values, rest, links, scalar);
    }
    return Py_BuildValue("(NNNNNl)", kind, shape, signature, values, rest, links);
}

static PyObject *scan_object(PyObject *self, PyObject *args) {
    long long loc, limit = 0, most = -1;
    const char *name;
    PyObject *argument = Py_None, *shared;
    if (!PyArg_ParseTuple(args, "Ly|LOL", &loc, &name, &limit, &argument, &most)) {
        return NULL;
    }
    if (!ready || !walk_ready) {
        PyErr_SetString(PyExc_RuntimeError, "call init() and init_walk() first");
        return NULL;
    }
    if (shared_texts(argument, &shared) < 0) {
        return NULL;
    }
    return scan_one((hid_t)loc, name, limit, shared, most, 0);
}

/*
 * Every entry of one group in one call (the traversal's step per group): h5py would call
 * back into Python once per link, and open an identifier object per member.
 */
typedef struct {
    unsigned char data[16];
} token_t;

/* H5L_info2_t (HDF5 >= 1.12): the link's type, its creation order (valid flag, value), the
   name's character set, then the target's token (hard links) or the value's size. */
typedef struct {
    int type;
    unsigned char corder_valid;
    int64_t corder;
    int cset;
    union {
        token_t token;
        size_t val_size;
    } u;
} link_info;

typedef int (*link_visitor)(hid_t, const char *, const link_info *, void *);
static herr_t (*p_link_iterate)(hid_t, int, int, hsize_t *, link_visitor, void *);
static herr_t (*p_token_to_addr)(hid_t, token_t, uint64_t *);
static herr_t (*p_dataset_read)(hid_t, hid_t, hid_t, hid_t, hid_t, void *);
static long c_link_hard;
static int group_ready = 0;

typedef struct {
    char *name;
    int type;
    token_t token;
} link_entry;

typedef struct {
    link_entry *entries;
    Py_ssize_t count, room;
} link_list;

static int collect_link(hid_t group, const char *name, const link_info *info, void *data) {
    link_list *list = (link_list *)data;
    if (list->count == list->room) {
        Py_ssize_t room = list->room ? list->room * 2 : 16;
        link_entry *grown = PyMem_Realloc(list->entries, (size_t)room * sizeof(link_entry));
        if (grown == NULL) {
            return -1;
        }
        list->entries = grown;
        list->room = room;
    }
    size_t length = strlen(name);
    char *copy = PyMem_Malloc(length + 1);
    if (copy == NULL) {
        return -1;
    }
    memcpy(copy, name, length + 1);
    link_entry *entry = &list->entries[list->count++];
    entry->name = copy;
    entry->type = info->type;
    entry->token = info->u.token;
    return 0;
}

static void free_links(link_list *list) {
    for (Py_ssize_t i = 0; i < list->count; i++) {
        PyMem_Free(list->entries[i].name);
    }
    PyMem_Free(list->entries);
}

static PyObject *init_group_walk(PyObject *self, PyObject *args) {
    PyObject *functions, *constants;
    long long number;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &functions, &PyDict_Type, &constants)) {
        return NULL;
    }
    group_ready = 0;
    BIND(p_link_iterate, "H5Literate2");
    BIND(p_token_to_addr, "H5VLnative_token_to_addr");
    BIND(p_dataset_read, "H5Dread");
    VALUE(constants, c_link_hard, "LINK_HARD");
    group_ready = 1;
    Py_RETURN_NONE;
}

static herr_t read_dataset_whole(hid_t dataset, hid_t memory, void *buffer) {
    return p_dataset_read(dataset, memory, 0, 0, 0, buffer);
}

/* A plain scalar dataset's value as (value,): variable-length text (when no limit applies),
   integers and floats of the types numpy has, as Python values; None for the rest (h5py
   reads those). */
static PyObject *read_dataset_scalar(hid_t dataset, long long limit) {
    hid_t type = p_dataset_type(dataset);
    if (type < 0) {
        Py_RETURN_NONE;
    }
    PyObject *numpy_type;
    PyObject *value = plain_value(dataset, type, p_get_class(type), read_dataset_whole,
                                  limit <= 0, &numpy_type);
    Py_XDECREF(numpy_type);
    p_close_type(type);
    if (value == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE; /* the read failed: h5py reads it again and reports the error */
    }
    PyObject *out = PyTuple_Pack(1, value);
    Py_DECREF(value);
    return out;
}

static PyObject *scan_group(PyObject *self, PyObject *args) {
    long long loc, limit = 0, most = -1;
    PyObject *argument, *shared, *known;
    if (!PyArg_ParseTuple(args, "LLOLO!", &loc, &limit, &argument, &most, &PyDict_Type,
                          &known)) {
        return NULL;
    }
    if (!ready || !walk_ready || !group_ready) {
        PyErr_SetString(PyExc_RuntimeError, "call init(), init_walk() and init_group_walk() first");
        return NULL;
    }
    if (shared_texts(argument, &shared) < 0) {
        return NULL;
    }
    link_list links = {NULL, 0, 0};
    hsize_t start = 0;
    if (p_link_iterate((hid_t)loc, (int)c_index_name, (int)c_iter_inc, &start, collect_link,
                       &links) < 0) {
        free_links(&links);
        if (!PyErr_Occurred()) {
            OS_ERROR("HDF5 could not list the group's entries");
        }
        return NULL;
    }
    PyObject *out = PyList_New(links.count);
    for (Py_ssize_t i = 0; out != NULL && i < links.count; i++) {
        link_entry *entry = &links.entries[i];
        PyObject *name = share(shared, PyUnicode_DecodeUTF8(entry->name,
                                                            (Py_ssize_t)strlen(entry->name),
                                                            "surrogateescape"));
        PyObject *address = NULL, *found = NULL;
        if (name != NULL && entry->type == c_link_hard) {
            uint64_t where = 0;
            if (p_token_to_addr((hid_t)loc, entry->token, &where) < 0) {
                OS_ERROR_FORMAT("HDF5 could not locate %s", entry->name);
            } else if ((address = PyLong_FromUnsignedLongLong((unsigned long long)where))) {
                int seen = PyDict_Contains(known, address);
                if (seen > 0) {
                    found = Py_NewRef(Py_None);
                } else if (seen == 0) {
                    found = scan_one((hid_t)loc, entry->name, limit, shared, most, 1);
                    if (found == Py_None) { /* a committed datatype */
                        Py_SETREF(found, Py_NewRef(Py_False));
                    }
                }
            }
        } else if (name != NULL) {
            address = Py_NewRef(Py_None);
            found = Py_NewRef(Py_None);
        }
        PyObject *item = (name && address && found)
                             ? Py_BuildValue("(NiNN)", name, entry->type, address, found)
                             : NULL;
        if (item == NULL) {
            if (!(name && address && found)) {
                Py_XDECREF(name);
                Py_XDECREF(address);
                Py_XDECREF(found);
            }
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, item);
    }
    free_links(&links);
    return out;
}

/*
 * Attributes of one object copied to another, as stored (truncation's copier; see
 * h5model.hdf5._native.copy_attrs, whose ctypes path does the same work call by call).
 */
static hid_t (*p_attr_create)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t);
static herr_t (*p_attr_write)(hid_t, hid_t, const void *);
static hid_t (*p_attr_plist)(hid_t);
static herr_t (*p_close_plist)(hid_t);
static int (*p_detect_class)(hid_t, int);
static herr_t (*p_reclaim)(hid_t, hid_t, hid_t, void *);
static Py_ssize_t (*p_npoints)(hid_t);
static long c_reference, c_vlen, c_string_class, c_null_space;
static int copy_ready = 0;

#define SMALL_VALUE 256

static PyObject *init_copy(PyObject *self, PyObject *args) {
    PyObject *functions, *constants;
    long long number;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &functions, &PyDict_Type, &constants)) {
        return NULL;
    }
    copy_ready = 0;
    BIND(p_open_by_idx, "H5Aopen_by_idx");
    BIND(p_get_name, "H5Aget_name");
    BIND(p_get_type, "H5Aget_type");
    BIND(p_get_space, "H5Aget_space");
    BIND(p_read, "H5Aread");
    BIND(p_close_type, "H5Tclose");
    BIND(p_close_space, "H5Sclose");
    BIND(p_close_attr, "H5Aclose");
    BIND(p_get_size, "H5Tget_size");
    BIND(p_extent_type, "H5Sget_simple_extent_type");
    BIND(p_attr_create, "H5Acreate2");
    BIND(p_attr_write, "H5Awrite");
    BIND(p_attr_plist, "H5Aget_create_plist");
    BIND(p_close_plist, "H5Pclose");
    BIND(p_detect_class, "H5Tdetect_class");
    BIND(p_reclaim, "H5Treclaim");
    BIND(p_npoints, "H5Sget_simple_extent_npoints");
    VALUE(constants, c_reference, "REFERENCE");
    VALUE(constants, c_vlen, "VLEN");
    VALUE(constants, c_string_class, "STRING");
    VALUE(constants, c_null_space, "SPACE_NULL");
    copy_ready = 1;
    Py_RETURN_NONE;
}

/* Copy the attribute at `position` of `source` to `target`: 1 copied, 0 it holds references
   (left to the caller), -1 with an exception set. */
static int copy_one(hid_t source, hid_t target, int order, int walk, hsize_t position) {
    hid_t attr = p_open_by_idx(source, ".", order, walk, position, 0, 0);
    if (attr < 0) {
        PyErr_Format(PyExc_OSError, "HDF5 could not open attribute %llu",
                     (unsigned long long)position);
        return -1;
    }
    int result = -1;
    const char *failed = NULL;
    char buffer[NAME_BUFFER], small[SMALL_VALUE];
    char *name = buffer;
    void *value = NULL;
    hid_t type = -1, space = -1, plist = -1, created = -1;
    if ((type = p_get_type(attr)) < 0) {
        failed = "read an attribute's datatype";
        goto done;
    }
    if (p_detect_class(type, (int)c_reference) > 0) {
        result = 0;
        goto done;
    }
    Py_ssize_t length = p_get_name(attr, NAME_BUFFER, buffer);
    if (length >= NAME_BUFFER) {
        name = PyMem_Malloc((size_t)length + 1);
        if (name == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        length = p_get_name(attr, (size_t)length + 1, name);
    }
    if (length < 0) {
        failed = "read an attribute's name";
        goto done;
    }
    if ((space = p_get_space(attr)) < 0) {
        failed = "read an attribute's shape";
        goto done;
    }
    if ((plist = p_attr_plist(attr)) < 0) {
        failed = "read an attribute's properties";
        goto done;
    }
    if ((created = p_attr_create(target, name, type, space, plist, 0)) < 0) {
        failed = "create an attribute";
        goto done;
    }
    result = 1;
    if (p_extent_type(space) == c_null_space) {
        goto done;
    }
    Py_ssize_t points = p_npoints(space);
    size_t size = points > 0 ? (size_t)points * p_get_size(type) : 0;
    if (size == 0) {
        goto done;
    }
    value = size <= SMALL_VALUE ? (void *)small : PyMem_Malloc(size);
    if (value == NULL) {
        PyErr_NoMemory();
        result = -1;
        goto done;
    }
    if (p_read(attr, type, value) < 0) {
        failed = "read an attribute";
        result = -1;
        goto done;
    }
    if (p_attr_write(created, type, value) < 0) {
        failed = "write an attribute";
        result = -1;
    }
    if (p_detect_class(type, (int)c_vlen) > 0 || p_detect_class(type, (int)c_string_class) > 0) {
        p_reclaim(type, space, 0, value);
    }
done:
    if (value != NULL && value != (void *)small) {
        PyMem_Free(value);
    }
    if (name != buffer) {
        PyMem_Free(name);
    }
    if (created >= 0) {
        p_close_attr(created);
    }
    if (plist >= 0) {
        p_close_plist(plist);
    }
    if (space >= 0) {
        p_close_space(space);
    }
    if (type >= 0) {
        p_close_type(type);
    }
    p_close_attr(attr);
    if (failed != NULL) {
        PyErr_Format(PyExc_OSError, "HDF5 could not %s", failed);
        result = -1;
    }
    return result;
}

static PyObject *copy_attributes(PyObject *self, PyObject *args) {
    long long source, target;
    int order, walk;
    Py_ssize_t count;
    PyObject *through_h5py;
    if (!PyArg_ParseTuple(args, "LLiinO", &source, &target, &order, &walk, &count,
                          &through_h5py)) {
        return NULL;
    }
    if (!copy_ready) {
        PyErr_SetString(PyExc_RuntimeError, "call init_copy() first");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        int copied = copy_one((hid_t)source, (hid_t)target, order, walk, (hsize_t)i);
        if (copied < 0) {
            return NULL;
        }
        if (copied == 0) { /* references: the caller points them at the copy's objects */
            PyObject *position = PyLong_FromSsize_t(i);
            PyObject *done = position ? PyObject_CallOneArg(through_h5py, position) : NULL;
            Py_XDECREF(position);
            if (done == NULL) {
                return NULL;
            }
            Py_DECREF(done);
        }
    }
    Py_RETURN_NONE;
}

/*
 * Members of one group created in the copy (truncation's step per group): each group or
 * dataset of plain values opened, created alike in the copy, its attributes copied and,
 * for a dataset, its kept rows copied as stored, then closed, without an identifier object
 * per HDF5 call. What needs more (references, variable-length values, storage outside the
 * file, filters not available, whole chunks to copy as stored, large datasets) is left to
 * the caller, either after the dataset is made or before anything is made.
 */
static hid_t (*p_group_open)(hid_t, const char *, hid_t);
static hid_t (*p_group_create)(hid_t, const char *, hid_t, hid_t, hid_t);
static herr_t (*p_group_close)(hid_t);
static hid_t (*p_group_plist)(hid_t);
static hid_t (*p_dataset_open)(hid_t, const char *, hid_t);
static hid_t (*p_dataset_create)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t, hid_t);
static herr_t (*p_dataset_close)(hid_t);
static hid_t (*p_dataset_plist)(hid_t);
static herr_t (*p_dataset_write)(hid_t, hid_t, hid_t, hid_t, hid_t, const void *);
static int (*p_layout)(hid_t);
static int (*p_get_chunk)(hid_t, int, hsize_t *);
static herr_t (*p_set_chunk)(hid_t, int, const hsize_t *);
static int (*p_external_count)(hid_t);
static int (*p_nfilters)(hid_t);
static int (*p_get_filter)(hid_t, unsigned, unsigned *, size_t *, unsigned *, size_t, char *,
                           unsigned *);
static int (*p_filter_avail)(int);
static herr_t (*p_attr_order)(hid_t, unsigned *);
static herr_t (*p_track_times)(hid_t, int);
static herr_t (*p_object_copy)(hid_t, const char *, hid_t, const char *, hid_t, hid_t);
static hid_t (*p_space_create)(int, const hsize_t *, const hsize_t *);
static herr_t (*p_select_hyperslab)(hid_t, int, const hsize_t *, const hsize_t *,
                                    const hsize_t *, const hsize_t *);
static hid_t (*p_type_copy)(hid_t);
static herr_t (*p_link_info)(hid_t, const char *, link_info *, hid_t);
static long c_chunked, c_virtual, c_select_set, c_info_time, c_order_tracked, c_index_order,
    c_simple_class, c_attr_native;
static unsigned long long c_unlimited;
static int members_ready = 0;

#define COPY_DONE 0
#define COPY_DATA_LEFT 1
#define COPY_DECLINED 2

/* H5O_info2_t's times follow the hard-link count (see object_info). */
typedef struct {
    long long atime, mtime, ctime, btime;
} object_times;

static PyObject *init_members(PyObject *self, PyObject *args) {
    PyObject *functions, *constants;
    long long number;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &functions, &PyDict_Type, &constants)) {
        return NULL;
    }
    members_ready = 0;
    BIND(p_group_open, "H5Gopen2");
    BIND(p_group_create, "H5Gcreate2");
    BIND(p_group_close, "H5Gclose");
    BIND(p_group_plist, "H5Gget_create_plist");
    BIND(p_dataset_open, "H5Dopen2");
    BIND(p_dataset_create, "H5Dcreate2");
    BIND(p_dataset_close, "H5Dclose");
    BIND(p_dataset_plist, "H5Dget_create_plist");
    BIND(p_dataset_write, "H5Dwrite");
    BIND(p_layout, "H5Pget_layout");
    BIND(p_get_chunk, "H5Pget_chunk");
    BIND(p_set_chunk, "H5Pset_chunk");
    BIND(p_external_count, "H5Pget_external_count");
    BIND(p_nfilters, "H5Pget_nfilters");
    BIND(p_get_filter, "H5Pget_filter2");
    BIND(p_filter_avail, "H5Zfilter_avail");
    BIND(p_attr_order, "H5Pget_attr_creation_order");
    BIND(p_track_times, "H5Pset_obj_track_times");
    BIND(p_object_copy, "H5Ocopy");
    BIND(p_space_create, "H5Screate_simple");
    BIND(p_select_hyperslab, "H5Sselect_hyperslab");
    BIND(p_type_copy, "H5Tcopy");
    BIND(p_link_info, "H5Lget_info2");
    VALUE(constants, c_chunked, "CHUNKED");
    VALUE(constants, c_virtual, "VIRTUAL");
    VALUE(constants, c_select_set, "SELECT_SET");
    VALUE(constants, c_info_time, "INFO_TIME");
    VALUE(constants, c_order_tracked, "CRT_ORDER_TRACKED");
    VALUE(constants, c_index_order, "INDEX_CRT_ORDER");
    VALUE(constants, c_simple_class, "SIMPLE");
    VALUE(constants, c_attr_native, "ITER_NATIVE");
    VALUE(constants, number, "UNLIMITED");
    c_unlimited = (unsigned long long)number;
    members_ready = 1;
    Py_RETURN_NONE;
}

typedef struct {
    PyObject *refs;  /* refs(name, index type, position): an attribute holding references */
    PyObject *name;  /* the member's name (bytes), for refs */
    hid_t lcpl[2];   /* link creation properties by character set (ASCII, UTF-8) */
    hid_t whole;     /* object copy properties of datasets kept whole */
    long long block; /* most elements copied here by value */
} member_job;

/* Copy every attribute of `source` to `target` in the source's order; one holding
   references goes to job->refs in its turn. 0, or -1 with an exception set. */
static int copy_all_attributes(hid_t source, hid_t target, hid_t plist, member_job *job) {
    unsigned tracked = 0;
    if (p_attr_order(plist, &tracked) < 0) {
        OS_ERROR("HDF5 could not read the attribute order");
        return -1;
    }
    int order = (tracked & (unsigned)c_order_tracked) ? (int)c_index_order : (int)c_index_name;
    int walk = order == (int)c_index_order ? (int)c_iter_inc : (int)c_attr_native;
    int count = p_num_attrs(source);
    if (count < 0) {
        OS_ERROR("HDF5 could not count the attributes");
        return -1;
    }
    for (int i = 0; i < count; i++) {
        int copied = copy_one(source, target, order, walk, (hsize_t)i);
        if (copied < 0) {
            return -1;
        }
        if (copied == 0) {
            PyObject *done = PyObject_CallFunction(job->refs, "Oii", job->name, order, i);
            if (done == NULL) {
                return -1;
            }
            Py_DECREF(done);
        }
    }
    return 0;
}

/* Close `id` with `close` if it was opened. */
static void release(hid_t id, herr_t (*close)(hid_t)) {
    if (id >= 0) {
        close(id);
    }
}

/* Keep whether the source records its times (HDF5 reports tracking on, stored or not). */
static int same_times(hid_t object, hid_t plist) {
    struct {
        object_info head;
    } info;
    if (p_object_info(object, &info.head, (unsigned)c_info_time) < 0) {
        OS_ERROR("HDF5 could not read the object's times");
        return -1;
    }
    object_times *times = (object_times *)info.head.rest;
    if (p_track_times(plist, (times->ctime || times->mtime) ? 1 : 0) < 0) {
        OS_ERROR("HDF5 could not set time tracking");
        return -1;
    }
    return 0;
}

static int copy_group(hid_t src, hid_t dst, const char *name, hid_t lcpl, member_job *job) {
    hid_t source = -1, plist = -1, created = -1;
    int result = -1;
    if ((source = p_group_open(src, name, 0)) < 0) {
        OS_ERROR_FORMAT("HDF5 could not open the group %s", name);
    } else if ((plist = p_group_plist(source)) < 0) {
        OS_ERROR("HDF5 could not read the group's properties");
    } else if (same_times(source, plist) == 0) {
        if ((created = p_group_create(dst, name, lcpl, plist, 0)) < 0) {
            OS_ERROR_FORMAT("HDF5 could not create the group %s", name);
        } else {
            result = copy_all_attributes(source, created, plist, job);
        }
    }
    release(created, p_group_close);
    release(plist, p_close_plist);
    release(source, p_group_close);
    return result;
}

/* Whether every filter of `plist` can run here. */
static int filters_available(hid_t plist) {
    int count = p_nfilters(plist);
    if (count < 0) {
        return 0;
    }
    for (int i = 0; i < count; i++) {
        unsigned flags = 0, config = 0;
        size_t values = 0;
        int code = p_get_filter(plist, (unsigned)i, &flags, &values, NULL, 0, NULL, &config);
        if (code < 0 || p_filter_avail(code) <= 0) {
            return 0;
        }
    }
    return 1;
}

/* One dataset: COPY_DONE, COPY_DATA_LEFT (made, its rows left to the caller),
   COPY_DECLINED (nothing made), or -1 with an exception set. `rows`: rows kept along the
   first axis (< 0: kept whole); `attributes_too`: kept whole and no attribute holds a
   reference, so HDF5 copies its attributes with it. `*written`: bytes of values copied. */
static int copy_dataset(hid_t src, hid_t dst, const char *name, long long rows,
                        int attributes_too, hid_t lcpl, member_job *job, long long *written) {
    hid_t source = -1, plist = -1, space = -1, type = -1, new_space = -1, created = -1;
    hid_t memory = -1, selection = -1;
    void *buffer = NULL;
    int result = -1;
    if ((source = p_dataset_open(src, name, 0)) < 0) {
        OS_ERROR_FORMAT("HDF5 could not open the dataset %s", name);
        goto done;
    }
    if ((plist = p_dataset_plist(source)) < 0) {
        OS_ERROR("HDF5 could not read the dataset's properties");
        goto done;
    }
    int layout = p_layout(plist);
    if (layout < 0 || layout == c_virtual || p_external_count(plist) != 0 ||
        !filters_available(plist)) {
        result = COPY_DECLINED;
        goto done;
    }
    if (rows < 0 && attributes_too) { /* kept whole, nothing to re-point: HDF5 copies all */
        if (p_object_copy(src, name, dst, name, 0, lcpl) < 0) {
            OS_ERROR_FORMAT("HDF5 could not copy the dataset %s", name);
            goto done;
        }
        result = COPY_DONE;
        goto done;
    }
    if (rows < 0) { /* kept whole: HDF5 copies it, attributes apart (copied in order below) */
        if (p_object_copy(src, name, dst, name, job->whole, lcpl) < 0) {
            OS_ERROR_FORMAT("HDF5 could not copy the dataset %s", name);
            goto done;
        }
        if ((created = p_dataset_open(dst, name, 0)) < 0) {
            OS_ERROR_FORMAT("HDF5 could not open the copied dataset %s", name);
            goto done;
        }
        result = copy_all_attributes(source, created, plist, job) < 0 ? -1 : COPY_DONE;
        goto done;
    }
    if ((space = p_dataset_space(source)) < 0) {
        OS_ERROR("HDF5 could not read the dataspace");
        goto done;
    }
    int rank = p_space_ndims(space);
    hsize_t dims[MAX_RANK], maxdims[MAX_RANK], chunk[MAX_RANK];
    if (p_extent_type(space) != c_simple_class || rank < 1 || rank > MAX_RANK ||
        p_space_dims(space, dims, maxdims) < 0) {
        result = COPY_DECLINED; /* the caller cuts only datasets with a first axis */
        goto done;
    }
    int chunked = layout == c_chunked;
    if (chunked && p_get_chunk(plist, rank, chunk) != rank) {
        OS_ERROR("HDF5 could not read the chunk shape");
        goto done;
    }
    hsize_t kept = (hsize_t)rows < dims[0] ? (hsize_t)rows : dims[0];
    int same_chunks = chunked;
    if (kept < dims[0]) {
        if (maxdims[0] != (hsize_t)c_unlimited && !(chunked && kept == 0)) {
            maxdims[0] = kept;
        }
        if (chunked && kept > 0 && kept < chunk[0]) {
            hsize_t smaller[MAX_RANK];
            memcpy(smaller, chunk, sizeof(hsize_t) * (size_t)rank);
            smaller[0] = kept;
            if (p_set_chunk(plist, rank, smaller) < 0) {
                OS_ERROR("HDF5 could not set the chunk shape");
                goto done;
            }
            same_chunks = 0;
        }
        dims[0] = kept;
    }
    if (same_times(source, plist) < 0) {
        goto done;
    }
    if ((new_space = p_space_create(rank, dims, maxdims)) < 0 ||
        (type = p_dataset_type(source)) < 0) {
        OS_ERROR("HDF5 could not describe the copy");
        goto done;
    }
    hid_t stored_type = p_type_copy(type); /* a transient copy, as h5py's get_type().copy() */
    if (stored_type < 0) {
        OS_ERROR("HDF5 could not copy the datatype");
        goto done;
    }
    p_close_type(type);
    type = stored_type;
    if ((created = p_dataset_create(dst, name, type, new_space, lcpl, plist, 0)) < 0) {
        OS_ERROR_FORMAT("HDF5 could not create the dataset %s", name);
        goto done;
    }
    if (copy_all_attributes(source, created, plist, job) < 0) {
        goto done;
    }
    long long elements = 1;
    for (int i = 0; i < rank; i++) {
        elements *= (long long)dims[i];
    }
    if (elements == 0) {
        result = COPY_DONE; /* no rows kept, or an axis of length 0: nothing to copy */
        goto done;
    }
    if ((same_chunks && kept >= chunk[0]) || elements > job->block) {
        result = COPY_DATA_LEFT; /* whole chunks to copy as stored, or too large for here */
        goto done;
    }
    size_t size = p_get_size(type) * (size_t)elements;
    buffer = PyMem_Malloc(size ? size : 1);
    if (buffer == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    hsize_t start[MAX_RANK] = {0};
    if ((memory = p_space_create(rank, dims, NULL)) < 0 || (selection = p_dataset_space(source)) < 0 ||
        p_select_hyperslab(selection, (int)c_select_set, start, NULL, dims, NULL) < 0) {
        OS_ERROR("HDF5 could not select the rows kept");
        goto done;
    }
    if (p_dataset_read(source, type, memory, selection, 0, buffer) < 0) {
        OS_ERROR_FORMAT("HDF5 could not read %s", name);
        goto done;
    }
    if (p_dataset_write(created, type, memory, 0, 0, buffer) < 0) {
        OS_ERROR_FORMAT("HDF5 could not write %s", name);
        goto done;
    }
    *written = (long long)size;
    result = COPY_DONE;
done:
    PyMem_Free(buffer);
    release(selection, p_close_space);
    release(memory, p_close_space);
    release(created, p_dataset_close);
    release(type, p_close_type);
    release(new_space, p_close_space);
    release(space, p_close_space);
    release(plist, p_close_plist);
    release(source, p_dataset_close);
    return result;
}

static PyObject *copy_members(PyObject *self, PyObject *args) {
    long long src, dst, ascii, utf8, whole, block;
    PyObject *members, *refs, *progress;
    if (!PyArg_ParseTuple(args, "LLO!(LL)LLOO!", &src, &dst, &PyList_Type, &members, &ascii,
                          &utf8, &whole, &block, &refs, &PyList_Type, &progress)) {
        return NULL;
    }
    if (!copy_ready || !walk_ready || !members_ready) {
        PyErr_SetString(PyExc_RuntimeError, "call init_copy(), init_walk() and init_members() first");
        return NULL;
    }
    if (PyList_GET_SIZE(progress) < 1) {
        PyErr_SetString(PyExc_ValueError, "progress must hold one item");
        return NULL;
    }
    member_job job = {refs, NULL, {(hid_t)ascii, (hid_t)utf8}, (hid_t)whole, block};
    Py_ssize_t count = PyList_GET_SIZE(members);
    PyObject *out = PyList_New(count);
    for (Py_ssize_t i = 0; out != NULL && i < count; i++) {
        PyObject *position = PyLong_FromSsize_t(i);
        if (position == NULL || PyList_SetItem(progress, 0, position) < 0) {
            Py_CLEAR(out);
            break;
        }
        PyObject *name;
        int action;
        long long rows;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(members, i), "O!iL", &PyBytes_Type, &name, &action,
                              &rows)) {
            Py_CLEAR(out);
            break;
        }
        const char *text = PyBytes_AS_STRING(name);
        link_info info;
        if (p_link_info((hid_t)src, text, &info, 0) < 0) {
            OS_ERROR_FORMAT("HDF5 could not read the link %s", text);
            Py_CLEAR(out);
            break;
        }
        hid_t lcpl = job.lcpl[info.cset == 1 ? 1 : 0];
        job.name = name;
        long long written = 0;
        int status = action == 0 ? copy_group((hid_t)src, (hid_t)dst, text, lcpl, &job)
                                 : copy_dataset((hid_t)src, (hid_t)dst, text, rows, action == 3,
                                                lcpl, &job, &written);
        PyObject *item = status < 0 ? NULL : Py_BuildValue("(iL)", status, written);
        if (item == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, item);
        if (status == COPY_DECLINED) { /* the caller makes it, then asks for the rest */
            PyObject *done = PyList_GetSlice(out, 0, i + 1);
            Py_SETREF(out, done);
            break;
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS,
     "init(function addresses, memory types, HDF5 constants, numpy types by (class, size, signed))."},
    {"read_scalar_attributes", read_scalar_attributes, METH_VARARGS,
     "(object, count[, limit[, shared]]) -> (values in name order, None for those left to "
     "h5py (and text longer than limit bytes, when given); their names). Names and short "
     "texts equal to one in the dict shared are that one (new ones are added)."},
    {"init_walk", init_walk, METH_VARARGS,
     "init_walk(function addresses, HDF5 constants): bind what scan_object calls."},
    {"scan_object", scan_object, METH_VARARGS,
     "(group, name[, limit[, shared[, most]]]) -> None for a committed datatype, else (kind, "
     "shape, datatype signature or None, attribute values, names left to h5py, hard links "
     "to it) of the object; values and names are None when it has more than most "
     "attributes."},
    {"init_group_walk", init_group_walk, METH_VARARGS,
     "init_group_walk(function addresses, HDF5 constants): bind what scan_group calls."},
    {"scan_group", scan_group, METH_VARARGS,
     "(group, limit, shared, most, known addresses) -> [(name, link type, address or None, "
     "found)] for each entry in increasing name order: found is None for a link other than a hard "
     "one or an address in known, False for a committed datatype, else scan_object's "
     "tuple plus a scalar dataset's value as (value,) (None where h5py must read it)."},
    {"init_members", init_members, METH_VARARGS,
     "init_members(function addresses, HDF5 constants): bind what copy_members calls."},
    {"copy_members", copy_members, METH_VARARGS,
     "(source group, copy's group, [(name, 0 group | 1 dataset kept whole | 2 dataset cut | "
     "3 dataset kept whole with its attributes, rows kept)], (ASCII, UTF-8 link creation properties), whole-copy properties, most "
     "elements, refs(name, index type, position), [position]) -> [(0 done | 1 made, rows "
     "left | 2 declined, bytes copied)], up to the first member declined (nothing made of "
     "it); progress[0] is the member being copied."},
    {"init_copy", init_copy, METH_VARARGS,
     "init_copy(function addresses, HDF5 constants): bind what copy_attributes calls."},
    {"copy_attributes", copy_attributes, METH_VARARGS,
     "(source, target, index type, iteration order, count, through_h5py) -> None: copy each "
     "attribute as stored, in turn; one holding references goes to through_h5py(position)."},
    {"lengths_conversion", lengths_conversion, METH_VARARGS,
     "(function addresses, probe type) -> address of the stored-lengths conversion."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastattrs", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastattrs(void) { return PyModule_Create(&module); }
