#ifndef ALLOT_HDF5_SHIM_H
#define ALLOT_HDF5_SHIM_H
#include <hdf5.h>

/* HDF5's type and property macros expand to globals that Swift cannot import; these
   wrappers return them as plain values (each call goes through H5open()). */
static inline hid_t allot_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t allot_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t allot_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t allot_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t allot_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t allot_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t allot_h5s_all(void) { return H5S_ALL; }
static inline unsigned allot_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned allot_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t allot_h5t_variable(void) { return H5T_VARIABLE; }
#endif
