/*
 * Scalar attributes of an HDF5 object, read in one call.
 *
 * The same work as h5model._libhdf5.read_scalar_attributes (see there for why),
 * without a Python-level call per HDF5 function. It binds, with dlsym, to the
 * HDF5 library h5py has already loaded (its path is passed in), so it needs no
 * HDF5 headers and no link-time dependency: only Python's headers and a C
 * compiler. If it cannot be built, h5model uses the ctypes path instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

typedef int64_t hid_t;
typedef int herr_t;
typedef unsigned long long hsize_t;

static hid_t (*p_open_by_idx)(hid_t, const char *, int, int, hsize_t, hid_t, hid_t);
static Py_ssize_t (*p_get_name)(hid_t, size_t, char *);
static hid_t (*p_get_type)(hid_t);
static int (*p_get_class)(hid_t);
static int (*p_is_variable_str)(hid_t);
static size_t (*p_get_size)(hid_t);
static int (*p_get_sign)(hid_t);
static hid_t (*p_get_space)(hid_t);
static int (*p_extent_type)(hid_t);
static int (*p_ndims)(hid_t);
static herr_t (*p_read)(hid_t, hid_t, void *);
static herr_t (*p_close_type)(hid_t);
static herr_t (*p_close_space)(hid_t);
static herr_t (*p_close_attr)(hid_t);
static herr_t (*p_free)(void *);

static hid_t t_double, t_int64, t_uint64, t_text;
static PyObject *numpy_types = NULL; /* dict: (kind, size, signed) -> numpy scalar type */
static int ready = 0;

#define STRING_CLASS 3
#define FLOAT_CLASS 1
#define INTEGER_CLASS 0
#define NAME_BUFFER 1024

static void *bind(void *lib, const char *name, int *ok) {
    void *symbol = dlsym(lib, name);
    if (symbol == NULL) {
        *ok = 0;
    }
    return symbol;
}

static PyObject *init(PyObject *self, PyObject *args) {
    const char *path;
    long long d, i64, u64, text;
    PyObject *types;
    if (!PyArg_ParseTuple(args, "sLLLLO!", &path, &d, &i64, &u64, &text, &PyDict_Type, &types)) {
        return NULL;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL) {
        PyErr_Format(PyExc_OSError, "HDF5 library %s is not loaded", path);
        return NULL;
    }
    int ok = 1;
    p_open_by_idx = bind(lib, "H5Aopen_by_idx", &ok);
    p_get_name = bind(lib, "H5Aget_name", &ok);
    p_get_type = bind(lib, "H5Aget_type", &ok);
    p_get_class = bind(lib, "H5Tget_class", &ok);
    p_is_variable_str = bind(lib, "H5Tis_variable_str", &ok);
    p_get_size = bind(lib, "H5Tget_size", &ok);
    p_get_sign = bind(lib, "H5Tget_sign", &ok);
    p_get_space = bind(lib, "H5Aget_space", &ok);
    p_extent_type = bind(lib, "H5Sget_simple_extent_type", &ok);
    p_ndims = bind(lib, "H5Sget_simple_extent_ndims", &ok);
    p_read = bind(lib, "H5Aread", &ok);
    p_close_type = bind(lib, "H5Tclose", &ok);
    p_close_space = bind(lib, "H5Sclose", &ok);
    p_close_attr = bind(lib, "H5Aclose", &ok);
    p_free = bind(lib, "H5free_memory", &ok);
    if (!ok) {
        PyErr_SetString(PyExc_OSError, "an HDF5 function is missing from the library");
        return NULL;
    }
    t_double = (hid_t)d;
    t_int64 = (hid_t)i64;
    t_uint64 = (hid_t)u64;
    t_text = (hid_t)text;
    Py_XDECREF(numpy_types);
    Py_INCREF(types);
    numpy_types = types;
    ready = 1;
    Py_RETURN_NONE;
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
static PyObject *read_scalar(hid_t attr) {
    hid_t space = p_get_space(attr);
    if (space < 0) {
        Py_RETURN_NONE;
    }
    int scalar = p_extent_type(space) == 0 && p_ndims(space) == 0;
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
    if (kind == STRING_CLASS && p_is_variable_str(type) > 0) {
        char *text = NULL;
        if (p_read(attr, t_text, &text) >= 0) {
            result = text ? PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "surrogateescape")
                          : PyUnicode_FromString("");
            if (text) {
                p_free(text);
            }
        }
    } else if (kind == FLOAT_CLASS) {
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
    } else if (kind == INTEGER_CLASS) {
        size_t size = p_get_size(type);
        int is_signed = p_get_sign(type) != 0;
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

static PyObject *read_scalar_attributes(PyObject *self, PyObject *args) {
    long long object;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "Ln", &object, &count)) {
        return NULL;
    }
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "call init() first");
        return NULL;
    }
    PyObject *values = PyDict_New();
    PyObject *rest = PyList_New(0);
    if (values == NULL || rest == NULL) {
        goto fail;
    }
    char name[NAME_BUFFER];
    for (Py_ssize_t i = 0; i < count; i++) {
        hid_t attr = p_open_by_idx((hid_t)object, ".", 0, 0, (hsize_t)i, 0, 0);
        if (attr < 0) {
            PyErr_Format(PyExc_OSError, "cannot open attribute %zd", i);
            goto fail;
        }
        Py_ssize_t length = p_get_name(attr, NAME_BUFFER, name);
        if (length < 0 || length >= NAME_BUFFER - 1) {
            p_close_attr(attr);
            PyErr_SetString(PyExc_OSError, "attribute name unreadable or too long");
            goto fail;
        }
        PyObject *key = PyUnicode_DecodeUTF8(name, length, "surrogateescape");
        PyObject *value = key ? read_scalar(attr) : NULL;
        p_close_attr(attr);
        if (value == NULL) {
            Py_XDECREF(key);
            goto fail;
        }
        int status = value == Py_None ? PyList_Append(rest, key) : PyDict_SetItem(values, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (status < 0) {
            goto fail;
        }
    }
    return Py_BuildValue("(NN)", values, rest);
fail:
    Py_XDECREF(values);
    Py_XDECREF(rest);
    return NULL;
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS, "Bind to the loaded HDF5 library."},
    {"read_scalar_attributes", read_scalar_attributes, METH_VARARGS,
     "(values, names left for h5py) of an object's attributes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastattrs", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastattrs(void) { return PyModule_Create(&module); }
