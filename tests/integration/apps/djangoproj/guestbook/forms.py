from django import forms


class SignForm(forms.Form):
    name = forms.CharField(max_length=50)
    message = forms.CharField(max_length=500, required=False)
