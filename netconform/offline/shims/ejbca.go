// Stand-in written by netconform's builder: the module proxy withholds
// github.com/Keyfactor/ejbca-go-client-sdk. Only SPIRE's EJBCA UpstreamAuthority plugin
// imports it; with this stand-in that plugin builds and refuses every enrollment.
package ejbca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
)

var errWithheld = errors.New("the EJBCA client is not part of this build")

type Authenticator interface{}

type MTLSAuthenticatorBuilder struct{}

func NewMTLSAuthenticatorBuilder() *MTLSAuthenticatorBuilder { return &MTLSAuthenticatorBuilder{} }

func (b *MTLSAuthenticatorBuilder) WithClientCertificate(*tls.Certificate) *MTLSAuthenticatorBuilder {
	return b
}

func (b *MTLSAuthenticatorBuilder) WithCaCertificates([]*x509.Certificate) *MTLSAuthenticatorBuilder {
	return b
}

func (b *MTLSAuthenticatorBuilder) Build() (Authenticator, error) { return nil, errWithheld }

type Configuration struct{ Host string }

func NewConfiguration() *Configuration { return &Configuration{} }

func (c *Configuration) SetAuthenticator(Authenticator) {}

type V1CertificateApiService struct{}

type APIClient struct{ V1CertificateApi *V1CertificateApiService }

func NewAPIClient(*Configuration) (*APIClient, error) { return nil, errWithheld }

type EnrollCertificateRestRequest struct{}

func NewEnrollCertificateRestRequest() *EnrollCertificateRestRequest {
	return &EnrollCertificateRestRequest{}
}

func (r *EnrollCertificateRestRequest) SetUsername(string)                 {}
func (r *EnrollCertificateRestRequest) SetPassword(string)                 {}
func (r *EnrollCertificateRestRequest) SetCertificateRequest(string)       {}
func (r *EnrollCertificateRestRequest) SetCertificateAuthorityName(string) {}
func (r *EnrollCertificateRestRequest) SetCertificateProfileName(string)   {}
func (r *EnrollCertificateRestRequest) SetEndEntityProfileName(string)     {}
func (r *EnrollCertificateRestRequest) SetIncludeChain(bool)               {}
func (r *EnrollCertificateRestRequest) SetAccountBindingId(string)         {}

type CertificateRestResponse struct{ CertificateChain []string }

func (r *CertificateRestResponse) GetResponseFormat() string { return "" }
func (r *CertificateRestResponse) GetCertificate() string    { return "" }

type ApiEnrollPkcs10CertificateRequest struct{}

func (s *V1CertificateApiService) EnrollPkcs10Certificate(context.Context) ApiEnrollPkcs10CertificateRequest {
	return ApiEnrollPkcs10CertificateRequest{}
}

func (r ApiEnrollPkcs10CertificateRequest) EnrollCertificateRestRequest(
	EnrollCertificateRestRequest,
) ApiEnrollPkcs10CertificateRequest {
	return r
}

func (r ApiEnrollPkcs10CertificateRequest) Execute() (*CertificateRestResponse, *http.Response, error) {
	return nil, nil, errWithheld
}

type GenericOpenAPIError struct{}

func (e *GenericOpenAPIError) Error() string { return errWithheld.Error() }
func (e *GenericOpenAPIError) Body() []byte  { return nil }
