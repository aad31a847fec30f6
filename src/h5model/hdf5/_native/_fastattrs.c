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
    PyObject *result = NULL;
    int kind = p_get_class(type);
    if (kind == c_string && p_is_variable_str(type) > 0) {
        char *text = NULL;
        uint32_t stored = 0;
        if (limit > 0 && t_lengths >= 0 && p_read(attr, t_lengths, &stored) >= 0 &&
            (long long)stored > limit) {
            /* left to h5model.hdf5.attributes, which refuses it unread */
        } else if (p_read(attr, t_text, &text) >= 0) {
            result = text ? PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "surrogateescape")
                          : PyUnicode_FromString("");
            if (text) {
                p_free(text);
            }
        }
    } else if (kind == c_float) {
        double value;
        size_t size = p_get_size(type);
        PyObject *numpy_type = scalar_type(kind, size, 1);
        if (numpy_type != NULL && p_read(attr, t_double, &value) >= 0) {
            PyObject *number = PyFloat_FromDouble(value);
            if (number) {
                result = PyObject_CallOneArg(numpy_type, number);
                Py_DECREF(number);
            }
        }
        Py_XDECREF(numpy_type);
    } else if (kind == c_integer) {
        size_t size = p_get_size(type);
        int is_signed = p_get_sign(type) != c_unsigned;
        PyObject *numpy_type = scalar_type(kind, size, is_signed);
        if (numpy_type != NULL) {
            PyObject *number = NULL;
            if (is_signed) {
                int64_t value;
                if (p_read(attr, t_int64, &value) >= 0) {
                    number = PyLong_FromLongLong((long long)value);
                }
            } else {
                uint64_t value;
                if (p_read(attr, t_uint64, &value) >= 0) {
                    number = PyLong_FromUnsignedLongLong((unsigned long long)value);
                }
            }
            if (number) {
                result = PyObject_CallOneArg(numpy_type, number);
                Py_DECREF(number);
            }
        }
        Py_XDECREF(numpy_type);
    }
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
    hid_t object = p_object_open((hid_t)loc, name, 0);
    if (object < 0) {
        OS_ERROR_FORMAT("HDF5 could not open %s", name);
        return NULL;
    }
    PyObject *kind = NULL, *shape = NULL, *signature = NULL, *values = NULL, *rest = NULL;
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
    p_object_close(object);
    if (kind == NULL || shape == NULL || signature == NULL || values == NULL || rest == NULL) {
        Py_XDECREF(kind);
        Py_XDECREF(shape);
        Py_XDECREF(signature);
        Py_XDECREF(values);
        Py_XDECREF(rest);
        return NULL;
    }
    return Py_BuildValue("(NNNNNl)", kind, shape, signature, values, rest, links);
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
